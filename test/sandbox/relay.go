package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// relayProcess is test/delayrelay run as its own process (cmd/delayrelay), so that no
// test code shares its Go runtime. The relay's own threads ask for real-time scheduling
// (delayrelay.highPriorityThread); the process as a whole runs at nice -10, not
// real-time: the Go runtime's spinning threads must not hold a CPU against them.
type relayProcess struct {
	cmd  *exec.Cmd
	addr *net.UDPAddr

	mu       sync.Mutex
	stdin    io.WriteCloser
	answers  *bufio.Scanner
	toTarget time.Duration
	toClient time.Duration
	done     chan struct{}
}

// relayBinary builds cmd/delayrelay into the sandbox once (the Go build cache makes it
// quick) from this source tree.
func (a *netnsAllocator) relayBinary(dir string) (string, error) {
	a.buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		a.relayBin = filepath.Join(dir, "bin", "delayrelay")
		cmd := exec.Command("go", "build", "-o", a.relayBin, "./test/delayrelay/cmd/delayrelay")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			a.buildErr = fmt.Errorf("build the delay relay: %w\n%s", err, out)
		}
	})
	return a.relayBin, a.buildErr
}

func startRelayProcess(binary, listen, target, logPath string) (*relayProcess, error) {
	cmd := exec.Command("nice", "-n", gatewayNice, binary, "--listen", listen, "--target", target)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the delay relay: %w", err)
	}
	r := &relayProcess{cmd: cmd, stdin: stdin, answers: bufio.NewScanner(stdout), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	if !r.answers.Scan() {
		r.close()
		return nil, fmt.Errorf("the delay relay exited: %s", tail(logPath, 5))
	}
	addr, ok := strings.CutPrefix(r.answers.Text(), "listening ")
	if !ok {
		r.close()
		return nil, fmt.Errorf("the delay relay said %q", r.answers.Text())
	}
	if r.addr, err = net.ResolveUDPAddr("udp", addr); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// do sends one command and reads its answer.
func (r *relayProcess) do(command string) error {
	if _, err := fmt.Fprintln(r.stdin, command); err != nil {
		return fmt.Errorf("delay relay: %w", err)
	}
	if !r.answers.Scan() {
		return fmt.Errorf("delay relay: no answer to %q (exited?)", command)
	}
	if answer := r.answers.Text(); answer != "ok" {
		return fmt.Errorf("delay relay: %s", answer)
	}
	return nil
}

func (r *relayProcess) setDelay(toTarget, toClient time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	toTarget, toClient = max(toTarget, 0), max(toClient, 0)
	if err := r.do(fmt.Sprintf("delay %s %s", toTarget, toClient)); err != nil {
		return err
	}
	r.toTarget, r.toClient = toTarget, toClient
	return nil
}

func (r *relayProcess) delays() (time.Duration, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.toTarget, r.toClient
}

func (r *relayProcess) setCut(cut bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cut {
		return r.do("cut")
	}
	return r.do("restore")
}

// close ends the relay: stdin closed, then SIGKILL if it does not exit.
func (r *relayProcess) close() {
	_ = r.stdin.Close()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
}
