package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrKeepalivedMissing means keepalived(8) is not installed (hack/deps.sh installs it).
var ErrKeepalivedMissing = fmt.Errorf("keepalived missing: run hack/deps.sh (Debian package keepalived)")

func checkKeepalived() error {
	for _, bin := range []string{"keepalived", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w: %w", ErrKeepalivedMissing, err)
		}
	}
	return nil
}

// keepalivedCheck is the kube-apiserver health check of the kubeadm HA guide, aimed at
// /readyz with a one-second budget.
const keepalivedCheck = `#!/bin/sh
exec curl --silent --fail --insecure --max-time 1 --output /dev/null https://127.0.0.1:6443/readyz
`

// keepalivedConf is one node's VRRP instance: every node starts BACKUP with nopreempt (so,
// like vipkeeper, a recovered node does not take the VIP back), one advertisement a
// second, and the API check with the same hysteresis as vipkeeper's defaults as far as
// keepalived's whole seconds allow (3 failures at 1 s to fail, 10 successes to recover).
// A failing check puts the instance in FAULT: it gives the VIP up at once.
const keepalivedConf = `global_defs {
  router_id %[1]s
  script_user root
}
vrrp_script check_apiserver {
  script "%[2]s"
  interval 1
  timeout 1
  fall 3
  rise 10
}
vrrp_instance control_plane {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority %[3]d
  advert_int 1
  virtual_ipaddress {
    %[4]s/32 dev eth0
  }
  track_script {
    check_apiserver
  }
}
`

// keepalivedNode makes n run keepalived (VRRP only, in the foreground) instead of vipkeeper.
func (l *CPLab) keepalivedNode(n *Node) error {
	check := filepath.Join(l.dir, "check_apiserver.sh")
	if err := os.WriteFile(check, []byte(keepalivedCheck), 0o755); err != nil {
		return fmt.Errorf("keepalived check: %w", err)
	}
	conf := filepath.Join(l.dir, n.name+"-keepalived.conf")
	body := fmt.Sprintf(keepalivedConf, n.name, check, 100+n.index, l.cfg.VIP)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return fmt.Errorf("keepalived config of %s: %w", n.name, err)
	}
	pid := filepath.Join(l.dir, n.name+"-keepalived")
	n.tmpl = "keepalived --dont-fork --log-console --log-detail --vrrp --use-file=" + conf +
		" --pid=" + pid + ".pid --vrrp_pid=" + pid + "-vrrp.pid"
	return nil
}
