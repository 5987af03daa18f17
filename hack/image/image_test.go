package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fakeBinaries writes a distinct stand-in binary for each platform.
func fakeBinaries(t *testing.T, platforms ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range platforms {
		d := filepath.Join(dir, strings.ReplaceAll(p, "/", "-"))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "vipkeeper"), []byte("binary for "+p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func build(t *testing.T, bin string) (Options, v1.ImageIndex) {
	t.Helper()
	dir := t.TempDir()
	o := Options{BinDir: bin, Platforms: []string{"linux/amd64", "linux/arm64"}, Version: "v1.2.3", Revision: "abc",
		Layout: filepath.Join(dir, "layout"), Archive: filepath.Join(dir, "image.tar")}
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(o, idx); err != nil {
		t.Fatal(err)
	}
	return o, idx
}

func TestImage_HoldsOnlyTheBinaryForEachPlatformWithUserEntrypointAndLabels(t *testing.T) {
	o, built := build(t, fakeBinaries(t, "linux/amd64", "linux/arm64"))
	_, idx := checkLayout(t, o, built)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.MediaType != types.OCIImageIndex {
		t.Fatalf("index: %d manifests, media type %s; want 2, OCI", len(im.Manifests), im.MediaType)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		plat := desc.Platform.OS + "/" + desc.Platform.Architecture
		if cf.OS+"/"+cf.Architecture != plat {
			t.Errorf("%s: config says %s/%s", plat, cf.OS, cf.Architecture)
		}
		if strings.Join(cf.Config.Entrypoint, " ") != BinaryPath || cf.Config.User != "65532:65532" {
			t.Errorf("%s: entrypoint %v user %q", plat, cf.Config.Entrypoint, cf.Config.User)
		}
		for k, v := range map[string]string{"org.opencontainers.image.version": "v1.2.3",
			"org.opencontainers.image.revision": "abc", "org.opencontainers.image.title": "vipkeeper"} {
			if cf.Config.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", plat, k, cf.Config.Labels[k], v)
			}
		}
		files := layerFiles(t, img)
		if want := "binary for " + plat; len(files) != 1 || files[strings.TrimPrefix(BinaryPath, "/")] != want {
			t.Errorf("%s: layer files %v, want only %s holding %q", plat, files, BinaryPath, want)
		}
	}
}

// checkLayout reads the written OCI layout back.
func checkLayout(t *testing.T, o Options, _ v1.ImageIndex) (Options, v1.ImageIndex) {
	t.Helper()
	p, err := layout.FromPath(o.Layout)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	outer, err := idx.IndexManifest()
	if err != nil || len(outer.Manifests) != 1 {
		t.Fatalf("layout index.json: %v, %d entries", err, len(outer.Manifests))
	}
	inner, err := idx.ImageIndex(outer.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.Archive); err != nil {
		t.Errorf("oci-archive: %v", err)
	}
	return o, inner
}

// layerFiles maps every regular file of the image's layers to its content.
func layerFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(tr)
				out[h.Name] = string(b)
				if h.Mode&0o111 == 0 {
					t.Errorf("%s is not executable", h.Name)
				}
			}
		}
		rc.Close()
	}
	return out
}

func TestImage_IsReproducible(t *testing.T) {
	bin := fakeBinaries(t, "linux/amd64", "linux/arm64")
	_, a := build(t, bin)
	_, b := build(t, bin)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same binaries differ: %s and %s", da, db)
	}
}

func TestImage_AMissingBinaryNamesThePlatform(t *testing.T) {
	_, err := Build(Options{BinDir: fakeBinaries(t, "linux/amd64"), Platforms: []string{"linux/amd64", "linux/arm64"}})
	if err == nil || !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("err = %v, want one naming linux/arm64", err)
	}
}

func TestImage_PushesTheIndexToARegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	_, idx := build(t, fakeBinaries(t, "linux/amd64", "linux/arm64"))
	ref := strings.TrimPrefix(srv.URL, "http://") + "/vipkeeper:v1.2.3"
	if err := Push(idx, ref); err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref)
	got, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("pushed %s, registry has %s", want, d)
	}
}

// TestImage_LoadsAndRunsUnderPodman loads the image `make image` built
// (bin/vipkeeper-image.tar) into podman, checks what podman sees, and runs `vipkeeper
// --version` in it. It skips without podman, without a built image, and where podman
// cannot start containers at all (a sandbox without CAP_SYS_RESOURCE, where crun's
// setrlimit is refused): hack/deps.sh does not install podman, so CI never needs it.
func TestImage_LoadsAndRunsUnderPodman(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed (apt-get install podman); the image's layers and config are tested above")
	}
	archive := filepath.Join("..", "..", "bin", "vipkeeper-image.tar")
	if _, err := os.Stat(archive); err != nil {
		t.Skipf("no %s: run make image first", archive)
	}
	out, err := exec.Command(podman, "load", "-q", "-i", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	ref := loadedRef(string(out))
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", ref).Run() })
	conf, err := exec.Command(podman, "image", "inspect", ref, "--format", "{{.Config.User}} {{.Config.Entrypoint}} {{.Os}}").CombinedOutput()
	if err != nil || strings.TrimSpace(string(conf)) != User+" ["+BinaryPath+"] linux" {
		t.Fatalf("podman image inspect %s: %v: %q", ref, err, conf)
	}
	run, err := exec.Command(podman, "run", "--rm", "--network=none", ref, "--version").CombinedOutput()
	if err != nil && bytes.Contains(run, []byte("setrlimit")) && bytes.Contains(run, []byte("Operation not permitted")) {
		t.Skipf("podman loaded %s but cannot start any container here: %s", ref, bytes.TrimSpace(run))
	}
	if err != nil {
		t.Fatalf("podman run %s --version: %v\n%s", ref, err, run)
	}
	if !bytes.HasPrefix(run, []byte("vipkeeper ")) {
		t.Errorf("podman run --version printed %q", run)
	}
	t.Logf("podman ran the image: %s", bytes.TrimSpace(run))
}

// loadedRef picks the image reference from `podman load` output ("Loaded image: X").
func loadedRef(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if _, ref, ok := strings.Cut(l, ": "); ok {
			return strings.TrimSpace(ref)
		}
	}
	return strings.TrimSpace(out)
}

// TestImage_TheBuiltBinaryRunsAndPrintsItsVersion takes this machine's platform's binary
// out of the layout `make image` wrote (bin/image) and runs `vipkeeper --version`: the
// layer holds a static binary stamped with the image's version label.
func TestImage_TheBuiltBinaryRunsAndPrintsItsVersion(t *testing.T) {
	p, err := layout.FromPath(filepath.Join("..", "..", "bin", "image"))
	if err != nil {
		t.Skipf("no bin/image: run make image first (%v)", err)
	}
	outer, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	om, err := outer.IndexManifest()
	if err != nil || len(om.Manifests) != 1 {
		t.Fatalf("index.json: %v", err)
	}
	idx, err := outer.ImageIndex(om.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	for _, d := range im.Manifests {
		if d.Platform.OS != runtime.GOOS || d.Platform.Architecture != runtime.GOARCH {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		bin := filepath.Join(t.TempDir(), "vipkeeper")
		if err := os.WriteFile(bin, []byte(layerFiles(t, img)[strings.TrimPrefix(BinaryPath, "/")]), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "--version").CombinedOutput()
		want := "vipkeeper " + cf.Config.Labels["org.opencontainers.image.version"] + "\n"
		if err != nil || string(out) != want {
			t.Errorf("the image's binary --version: %v, %q; want %q", err, out, want)
		}
		return
	}
	t.Skipf("bin/image has no %s/%s image", runtime.GOOS, runtime.GOARCH)
}
