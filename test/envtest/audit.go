package envtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ConfigureAuditLog makes the environment's API server (before it starts) write an audit log by policy
// (an audit.k8s.io/v1 Policy, YAML) into dir, each event written before the request is answered
// (blocking mode), and returns the log's path.
func ConfigureAuditLog(env *envtest.Environment, dir, policy string) (string, error) {
	path := filepath.Join(dir, "audit-policy.yaml")
	log := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(path, []byte(policy), 0o600); err != nil {
		return "", err
	}
	env.ControlPlane.GetAPIServer().Configure().Set("audit-policy-file", path).Set("audit-log-path", log).Set("audit-log-mode", "blocking")
	return log, nil
}

// AuditEvent is the part of an audit log event (audit.k8s.io/v1 Event) the tests read.
type AuditEvent struct {
	Stage string `json:"stage"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	Verb      string `json:"verb"`
	ObjectRef struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Received metav1.MicroTime `json:"requestReceivedTimestamp"`
	StageAt  metav1.MicroTime `json:"stageTimestamp"`
}

// AuditLog reads an audit log as it grows: each Next returns the events written since the last.
type AuditLog struct {
	Path   string
	offset int64
}

// Next returns the events of the complete lines written since the last call (a line still being
// written is left for the next call); lines that are not events are skipped.
func (a *AuditLog) Next() ([]AuditEvent, error) {
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	end := bytes.LastIndexByte(b, '\n') + 1
	a.offset += int64(end)
	var out []AuditEvent
	for _, line := range bytes.Split(b[:end], []byte("\n")) {
		var e AuditEvent
		if len(line) == 0 || json.Unmarshal(line, &e) != nil {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// ReadAuditLog reads every event of an audit log.
func ReadAuditLog(path string) ([]AuditEvent, error) {
	return (&AuditLog{Path: path}).Next()
}
