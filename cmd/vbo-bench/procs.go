package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Every system runs in a process of its own: the gateway binary (vbo-gateway --config), Hive
// Gateway (node), and the simulated VBO servers in one vbo-sim process; the load generator is
// the bench process itself. Where taskset exists and the machine has two or more CPUs, the
// system under test (gateway or Hive Gateway) gets the same CPU set (--system-cpus), and the
// simulators and the load generator get the others (--harness-cpus), so neither system competes
// with the harness for its CPU.

// binaries are the programs the bench starts.
type binaries struct {
	gateway, sim string
	dir          string // temporary build directory ("" when the binaries were given)
}

// buildBinaries builds vbo-gateway and vbo-sim once (go build -o) into a temporary directory,
// unless --gateway-bin and --sim-bin name prebuilt ones.
func buildBinaries(ctx context.Context, o *options) (*binaries, error) {
	b := &binaries{gateway: o.gatewayBin, sim: o.simBin}
	if b.gateway != "" && b.sim != "" {
		return b, nil
	}
	dir, err := os.MkdirTemp("", "vbo-bench-bin-")
	if err != nil {
		return nil, err
	}
	b.dir = dir
	for _, p := range []struct {
		dst *string
		pkg string
	}{{&b.gateway, "vbo-gateway"}, {&b.sim, "vbo-sim"}} {
		if *p.dst != "" {
			continue
		}
		out := filepath.Join(dir, p.pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/vbo-gateway/vbo-gateway/cmd/"+p.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("go build %s (run from the repository, or pass --gateway-bin and --sim-bin): %v\n%s", p.pkg, err, msg)
		}
		*p.dst = out
	}
	return b, nil
}

func (b *binaries) remove() {
	if b != nil && b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// cpuSets resolves --system-cpus and --harness-cpus ("auto": the last CPU for the system, the
// others for the harness, when taskset exists and there are at least two CPUs; "none": no
// pinning).
func cpuSets(o *options) (system, harness string) {
	system, harness = o.systemCPUs, o.harnessCPUs
	if system == "none" {
		system = ""
	}
	if harness == "none" {
		harness = ""
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return "", ""
	}
	n := runtime.NumCPU()
	if system == "auto" {
		system = ""
		if n >= 2 {
			system = strconv.Itoa(n - 1)
		}
	}
	if harness == "auto" {
		harness = ""
		if n >= 2 {
			harness = "0"
			if n > 2 {
				harness = fmt.Sprintf("0-%d", n-2)
			}
		}
	}
	return system, harness
}

// cpuCount is how many CPUs a taskset -c list names ("3": 1, "0,2": 2, "0-2,5": 4).
func cpuCount(list string) int {
	n := 0
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, errA := strconv.Atoi(lo)
		b, errB := strconv.Atoi(hi)
		if isRange && errA == nil && errB == nil && b >= a {
			n += b - a + 1
		} else {
			n++
		}
	}
	return n
}

// pinned returns the command that runs name with args on cpus (taskset -c), or without
// pinning when cpus is "". taskset execs the program, so the process id is the program's.
func pinned(ctx context.Context, cpus, name string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "taskset", append([]string{"-c", cpus, name}, args...)...)
}

// proc is a started child process whose output is kept (last lines) for error messages.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log.Len() > 64<<10 {
		rest := p.log.Bytes()[p.log.Len()-16<<10:]
		p.log.Reset()
		p.log.Write(rest)
	}
	return p.log.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return tail(p.log.String(), 1500)
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func startProc(cmd *exec.Cmd, stdout io.Writer) (*proc, error) {
	p := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = p
	cmd.Stdout = p
	if stdout != nil {
		cmd.Stdout = io.MultiWriter(p, stdout)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop ends the process group (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitHealthy polls url until it answers 200, the process exits or the timeout passes.
func waitHealthy(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		switch {
		case p.exited():
			return fmt.Errorf("exited before it was healthy: %s", p.output())
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("not healthy after %s: %s", timeout, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// lineWaiter collects a child's stdout lines of the form "name url" (vbo-sim's ready lines).
type lineWaiter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (l *lineWaiter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		select {
		case l.lines <- line:
		default:
		}
	}
}

// ---- a process's own CPU time and peak RSS, from /proc ----

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// procStat reads a process's utime+stime and parent pid from /proc/<pid>/stat.
func procStat(pid int) (cpu time.Duration, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) state ppid ..."; comm may hold spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc stat")
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14 of the whole line
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("bad utime/stime")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, ppid, nil
}

// selfCPU is this process's own CPU time (user + system), without its children's (the
// simulators and the gateway are children of the bench process).
func selfCPU() time.Duration {
	cpu, _, _ := procStat(os.Getpid())
	return cpu
}

// treeCPU is the CPU time (user + system) of pid and every live descendant (Hive Gateway may
// fork workers; the gateway has none).
func treeCPU(pid int) time.Duration {
	total, _, err := procStat(pid)
	if err != nil {
		return 0
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return total
	}
	children := map[int][]int{}
	cpus := map[int]time.Duration{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		c, pp, err := procStat(p)
		if err != nil {
			continue
		}
		children[pp] = append(children[pp], p)
		cpus[p] = c
	}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			total += cpus[c]
			queue = append(queue, c)
		}
	}
	return total
}

// vmHWM returns a process's peak resident set size in bytes (0 when unknown). pid 0 = self.
func vmHWM(pid int) int64 {
	p := "/proc/self/status"
	if pid > 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(p)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
