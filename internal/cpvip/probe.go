package cpvip

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// prober asks the local kube-apiserver's /readyz every interval (with the kubeconfig's
// credentials, so it also works with --anonymous-auth=false) and feeds Health.
type prober struct {
	client   rest.Interface
	interval time.Duration
	health   *Health
	log      *slog.Logger
}

func newProber(rc *rest.Config, cfg Config, log *slog.Logger) (*prober, error) {
	hc := rest.CopyConfig(rc)
	hc.Timeout = cfg.ProbeTimeout
	hc.QPS, hc.Burst = -1, 0 // no client-side rate limit: one request per interval
	cs, err := kubernetes.NewForConfig(hc)
	if err != nil {
		return nil, fmt.Errorf("health client: %w", err)
	}
	return &prober{client: cs.Discovery().RESTClient(), interval: cfg.ProbeInterval,
		health: NewHealth(cfg.Health), log: log}, nil
}

// run probes until ctx ends and calls changed with every new verdict. Probes never
// overlap: a slow one delays the next.
func (p *prober) run(ctx context.Context, changed func(healthy bool)) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		err := p.once(ctx)
		if ctx.Err() != nil {
			return
		}
		if healthy, flipped := p.health.Observe(time.Now(), err == nil); flipped {
			p.log.Info("local kube-apiserver health changed", "healthy", healthy, "err", err)
			changed(healthy)
		} else if err != nil {
			p.log.Debug("local kube-apiserver not ready", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *prober) once(ctx context.Context) error {
	_, err := p.client.Get().AbsPath("/readyz").Do(ctx).Raw()
	if err != nil {
		return fmt.Errorf("local /readyz: %w", err)
	}
	return nil
}
