package sim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MarkerEnv marks every process the simulated cluster starts: its value is the cluster's state
// directory. Children inherit it (through unshare, sh and chroot too), so Sweep finds every process a
// cluster left behind, and only those, by reading /proc/<pid>/environ.
const MarkerEnv = "GENAI_SIM_STATE"

// proc is one process (and its process group) of the cluster.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
	// supervised processes are restarted when they exit (supervise): not a failure of the cluster.
	supervised bool
}

// startProcess starts a command in its own process group, with the cluster's marker in its environment,
// its output in <state>/logs/<name>.log, and SIGKILL as its parent-death signal (so a crashed or killed
// test binary does not leave it running).
func (c *Cluster) startProcess(name string, env []string, path string, args ...string) (*proc, error) {
	if err := os.MkdirAll(filepath.Join(c.StateDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(c.StateDir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(append(os.Environ(), MarkerEnv+"="+c.StateDir), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = c.StateDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	c.logf("   %s started (pid %d, log %s)", name, cmd.Process.Pid, logf.Name())
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after the grace period.
func (p *proc) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	// The leader may be gone while others of its group (relays) remain: kill the group in any case.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	_ = p.log.Close()
}

// Leftover is a process of a cluster still running.
type Leftover struct {
	PID     int
	Command string
}

func (l Leftover) String() string { return fmt.Sprintf("%d %s", l.PID, l.Command) }

// Processes lists the running processes marked with the cluster state directory stateDir, except the
// calling process.
func Processes(stateDir string) []Leftover {
	want := []byte(MarkerEnv + "=" + stateDir + "\x00")
	entries, _ := os.ReadDir("/proc")
	var out []Leftover
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...)) {
			continue
		}
		if zombie(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, Leftover{PID: pid, Command: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

func zombie(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(st)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// Sweep ends every process marked with stateDir: SIGTERM, then SIGKILL after grace. It returns what was
// still running at the start.
func Sweep(stateDir string, grace time.Duration) []Leftover {
	found := Processes(stateDir)
	for _, l := range found {
		_ = syscall.Kill(l.PID, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && len(Processes(stateDir)) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	for _, l := range Processes(stateDir) {
		_ = syscall.Kill(l.PID, syscall.SIGKILL)
	}
	for i := 0; i < 50 && len(Processes(stateDir)) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return found
}

// StartProcess starts an extra process as part of the cluster (the operator under test, say), with the
// cluster's marker, log and parent-death signal; Stop ends it first.
func (c *Cluster) StartProcess(name string, env []string, path string, args ...string) error {
	_, err := c.startProcess(name, env, path, args...)
	return err
}

// Memory is the resident memory, in bytes, of the running processes marked with stateDir: in total and
// by command name (summed over processes of the same name).
func Memory(stateDir string) (total int64, byName map[string]int64) {
	byName = map[string]int64{}
	for _, l := range Processes(stateDir) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", l.PID))
		if err != nil {
			continue
		}
		var name string
		var kb int64
		for _, line := range strings.Split(string(st), "\n") {
			switch {
			case strings.HasPrefix(line, "Name:"):
				name = strings.TrimSpace(strings.TrimPrefix(line, "Name:"))
			case strings.HasPrefix(line, "VmRSS:"):
				_, _ = fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &kb)
			}
		}
		byName[name] += kb * 1024
		total += kb * 1024
	}
	return total, byName
}

// Restart is one restart of a supervised process: when its previous run ended, and how.
type Restart struct {
	Name string
	At   time.Time
	Exit string
}

// supervise restarts p whenever it exits, until the cluster stops, as the kubelet restarts the container
// of a Deployment's pod (restartPolicy Always), with a shorter back-off (1 s doubling up to 10 s instead of
// 10 s up to 5 min). It is for the upstream controllers that a real cluster runs as Deployments and whose
// crashes a real cluster survives: a restart is recorded (Restarts) and logged, never hidden.
func (c *Cluster) supervise(ctx context.Context, p *proc, env []string, path string, args ...string) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		backoff := time.Second
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.done:
			}
			if ctx.Err() != nil {
				return
			}
			exit := fmt.Sprint(p.err)
			c.mu.Lock()
			c.restarts = append(c.restarts, Restart{Name: p.name, At: time.Now(), Exit: exit})
			c.mu.Unlock()
			c.logf("!! %s exited (%s): restarting it in %s, as the kubelet would (log %s)", p.name, exit, backoff, p.log.Name())
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			next, err := c.startProcess(p.name, env, path, args...)
			if err != nil {
				c.logf("!! restarting %s: %v", p.name, err)
				return
			}
			// The ended run leaves the cluster's list: the new one is stopped with the cluster.
			c.mu.Lock()
			next.supervised = true
			for i, q := range c.procs {
				if q == p {
					c.procs = append(c.procs[:i], c.procs[i+1:]...)
					break
				}
			}
			c.mu.Unlock()
			_ = p.log.Close()
			p = next
		}
	}()
}

// Restarts lists the restarts of the cluster's supervised processes so far.
func (c *Cluster) Restarts() []Restart {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Restart(nil), c.restarts...)
}

// RestartSupervised ends the running process of a supervised upstream controller (SIGTERM to its process
// group), as deleting its pod would: the supervisor starts it again, and the restart is recorded
// (Restarts) and logged.
func (c *Cluster) RestartSupervised(name string) error {
	c.mu.Lock()
	var p *proc
	for _, q := range c.procs {
		if q.name == name && q.supervised {
			p = q
		}
	}
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("no supervised process %s is running", name)
	}
	c.logf("!! restarting %s on the test's request", name)
	return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
}

// LogOf is the path of a process's log.
func (c *Cluster) LogOf(name string) string {
	return filepath.Join(c.StateDir, "logs", name+".log")
}
