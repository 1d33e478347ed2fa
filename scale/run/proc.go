package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process (Prometheus or slod) whose memory is watched.
// Children die with the driver (Pdeathsig), so nothing outlives a run.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // set before exited closes

	mu     sync.Mutex
	hwm    int64  // highest VmHWM seen, bytes
	killed string // why the watcher killed it, if it did
}

// start runs bin with args, stdout and stderr going to log.
func start(name, log, bin string, args ...string) (*proc, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Kill()
	}
	<-p.exited
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.kill()
	}
}

// peak is the highest resident set size the process reached (VmHWM).
func (p *proc) peak() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hwm
}

func (p *proc) killedBecause() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// watch samples the process's memory every interval until it exits or ctx
// ends. It SIGKILLs the process when its resident set passes maxRSS or the
// machine's available memory falls below minAvail, and says why.
func (p *proc) watch(ctx context.Context, interval time.Duration, maxRSS, minAvail int64) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		status, err := readKB("/proc/"+strconv.Itoa(p.pid())+"/status", "VmRSS", "VmHWM")
		if err == nil {
			p.mu.Lock()
			p.hwm = max(p.hwm, status["VmHWM"], status["VmRSS"])
			p.mu.Unlock()
			why := ""
			if maxRSS > 0 && status["VmRSS"] > maxRSS {
				why = fmt.Sprintf("resident memory %s passed the limit %s", gib(status["VmRSS"]), gib(maxRSS))
			} else if mem, err := readKB("/proc/meminfo", "MemAvailable"); err == nil && minAvail > 0 && mem["MemAvailable"] < minAvail {
				why = fmt.Sprintf("machine's available memory %s fell below %s (%s resident)", gib(mem["MemAvailable"]), gib(minAvail), gib(status["VmRSS"]))
			}
			if why != "" {
				p.mu.Lock()
				p.killed = why
				p.mu.Unlock()
				_ = p.cmd.Process.Kill()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.exited:
			return
		case <-t.C:
		}
	}
}

// readKB reads "Key: N kB" lines of a /proc file, in bytes.
func readKB(path string, keys ...string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[string]int64, len(keys))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", path, k, err)
				}
				out[k] = n * 1024
			}
		}
	}
	if len(out) != len(keys) {
		return nil, fmt.Errorf("%s: want %v", path, keys)
	}
	return out, sc.Err()
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errExited is returned by waits when the process being waited on exits.
var errExited = errors.New("process exited")

// tail returns the last n lines of a log file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }
