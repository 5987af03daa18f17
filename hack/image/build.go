package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BinaryPath is where the image holds the binary; it is also the entrypoint.
const BinaryPath = "/usr/local/bin/vipkeeper"

// User is the default user: nonroot (65532) as in distroless. The controller keeps it; the
// agent's Pod runs as root with only NET_ADMIN and NET_RAW (docs/install.md).
const User = "65532:65532"

// Options say what to build.
type Options struct {
	BinDir    string   // <BinDir>/<os>-<arch>/vipkeeper for each platform
	Platforms []string // os/arch
	Version   string
	Revision  string
	Layout    string    // OCI layout directory
	Archive   string    // oci-archive tarball, or ""
	Created   time.Time // image creation time; zero: the Unix epoch (reproducible)
}

// Build returns the image index: one image per platform.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Platforms) == 0 {
		return nil, errors.New("no platforms")
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		plat, err := parsePlatform(p)
		if err != nil {
			return nil, err
		}
		img, err := platformImage(o, plat)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &plat}})
	}
	return idx, nil
}

func parsePlatform(s string) (v1.Platform, error) {
	os, arch, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || os == "" || arch == "" || strings.Contains(arch, "/") {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch", s)
	}
	return v1.Platform{OS: os, Architecture: arch}, nil
}

func platformImage(o Options, plat v1.Platform) (v1.Image, error) {
	bin := filepath.Join(o.BinDir, plat.OS+"-"+plat.Architecture, "vipkeeper")
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("binary for %s/%s: %w (make image builds it)", plat.OS, plat.Architecture, err)
	}
	layer, err := binaryLayer(data, o.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		return nil, fmt.Errorf("layer for %s/%s: %w", plat.OS, plat.Architecture, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = plat.OS, plat.Architecture
	cf.Created = v1.Time{Time: o.Created.UTC()}
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.User = User
	cf.Config.Labels = Labels(o)
	return mutate.ConfigFile(img, cf)
}

// Labels are the OCI annotations of the image config (org.opencontainers.image.*).
func Labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "vipkeeper",
		"org.opencontainers.image.description": "Virtual IPs for bare-metal LoadBalancer Services, announced from exactly one node",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.source":      "https://github.com/vipkeeper/vipkeeper",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// binaryLayer is a tar holding the binary at BinaryPath (mode 0755, root-owned, with its
// parent directories), every time stamp set to created so the layer is reproducible.
func binaryLayer(data []byte, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"usr/", "usr/local/", "usr/local/bin/"}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: created}); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(BinaryPath, "/"), Mode: 0o755,
		Size: int64(len(data)), ModTime: created}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
