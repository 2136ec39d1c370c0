package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is one child process of the harness, logging to its own file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

// startProcess runs binary with args, its stdout and stderr going to <logDir>/<name>.log.
// The child gets SIGKILL if the harness process dies, so an interrupted test leaves no
// control plane behind.
func startProcess(name, binary string, args, env []string, logDir string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log for %s: %w", name, err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, binary, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop sends SIGTERM, waits up to grace, then kills the whole process group.
func (p *process) stop(grace time.Duration) {
	if done, _ := p.exited(); done {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// freePort asks the kernel for a free TCP port on the loopback address.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// poll calls check every interval until it returns true or an error, the context ends,
// or timeout passes. The last "not yet" reason is included in the timeout error.
func poll(ctx context.Context, interval, timeout time.Duration, what string,
	check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := check(ctx)
		if ok {
			return nil
		}
		if errors.Is(err, errExited) {
			return err
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out after %s waiting for %s: %w", timeout, what, last)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		case <-time.After(interval):
		}
	}
}

var errExited = errors.New("process exited")

// tail returns the last n lines of a file, for error messages about crashed processes.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(string(data), n)
}

// FreePort returns a free TCP port on 127.0.0.1, for servers a test starts itself.
func FreePort() (int, error) { return freePort() }

// Process is a program of the caller's that the cluster runs (StartProcess).
type Process struct{ p *process }

// Stop ends the process (SIGTERM, then SIGKILL after a grace period).
func (p *Process) Stop() { p.p.stop(stopGrace) }

// Exited reports whether the process has ended, and the tail of its log if it has.
func (p *Process) Exited() (bool, string) {
	if done, err := p.p.exited(); done {
		return true, fmt.Sprintf("%s exited (%v):\n%s", p.p.name, err, tail(p.p.logPath, 10))
	}
	return false, ""
}

// StartProcess runs a program of the caller's (e.g. the real xr-webhook binary) as part of
// the cluster: its output goes to <cluster>/logs/<name>.log and it stops with the cluster,
// before the cluster's own processes.
func (c *Cluster) StartProcess(name, binary string, args, env []string) (*Process, error) {
	p, err := c.start(name, binary, args, env)
	if err != nil {
		return nil, err
	}
	return &Process{p: p}, nil
}

// PeakRSS is the process's peak resident set size (VmHWM in /proc/<pid>/status).
func (p *Process) PeakRSS() (int64, error) { return p.statusBytes("VmHWM") }

// RSSParts splits the process's resident memory now into anonymous pages (heap, stacks,
// runtime) and file-backed pages (mostly its own binary's text and data), from
// /proc/PID/status.
func (p *Process) RSSParts() (anon, file int64, err error) {
	if anon, err = p.statusBytes("RssAnon"); err != nil {
		return 0, 0, err
	}
	file, err = p.statusBytes("RssFile")
	return anon, file, err
}

// statusBytes reads one "Field:   N kB" line of /proc/PID/status.
func (p *Process) statusBytes(field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("%s %q: %w", field, rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.p.cmd.Process.Pid)
}
