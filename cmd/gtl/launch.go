package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sugarme/gotch"
	"github.com/urfave/cli/v2"

	"github.com/gtl-dev/gtl/env"
	"github.com/gtl-dev/gtl/torch"
)

// distFlags are the launching flags of a data-parallel `gtl train`.
func distFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "nproc-per-node", Usage: "start this many local worker processes training data-parallel on c10d/Gloo (torchrun's single-node case; --batch is per process). Without it gtl joins the group the environment describes (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT, as torchrun, srun wrappers and PyTorchJob set them)"},
		&cli.IntFlag{Name: "master-port", Usage: "with --nproc-per-node: the rendezvous port on 127.0.0.1 (0: a free one)"},
		&cli.DurationFlag{Name: "dist-timeout", Value: torch.DefaultDistTimeout, Usage: "how long a rank waits for the others (rendezvous and every collective) before failing"},
	}
}

// invocation is the command line run was called with; the launcher starts
// its workers with it (less the launching flags).
var invocation []string

// workerCommand makes the command of local worker rank; tests replace it.
var workerCommand = func(rank int, args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--nproc-per-node: cannot find the gtl binary to start: %w", err)
	}
	return exec.Command(exe, args...), nil
}

// stripFlags removes the named flags (and their values) from args.
func stripFlags(args []string, names ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		drop := false
		for _, n := range names {
			for _, p := range []string{"-" + n, "--" + n} {
				if a == p {
					drop = true
					i++ // its value
				} else if strings.HasPrefix(a, p+"=") {
					drop = true
				}
			}
		}
		if !drop {
			out = append(out, a)
		}
	}
	return out
}

// launch runs --nproc-per-node local workers of this command with
// torchrun's environment and waits for them. The first worker to fail
// stops the others; its error (each worker prints its own, prefixed with
// its rank) decides the exit code. Rank 0's output is passed through.
func launch(c *cli.Context, n int) error {
	if v := os.Getenv("WORLD_SIZE"); v != "" {
		return cli.Exit(fmt.Sprintf("--nproc-per-node %d: this process is already a rank of a distributed run (WORLD_SIZE=%s); drop the flag under torchrun, srun or PyTorchJob", n, v), 2)
	}
	if n < 1 {
		return cli.Exit(fmt.Sprintf("--nproc-per-node %d: want at least 1", n), 2)
	}
	if err := refuseLRFindLaunch(c); err != nil {
		return err
	}
	port := c.Int("master-port")
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("--nproc-per-node: find a free port: %w", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	args := stripFlags(invocation[1:], "nproc-per-node", "master-port")
	// As torchrun: one thread per worker unless asked otherwise, so that N
	// workers do not oversubscribe the cores.
	threads := ""
	if !env.NumThreads.IsSet() && !c.IsSet("threads") {
		threads = env.NumThreads.Name + "=" + strconv.Itoa(max(1, torch.DefaultThreads()/n))
	}
	type exit struct {
		rank int
		err  error
	}
	done := make(chan exit, n)
	var procs []*exec.Cmd
	var outputs sync.WaitGroup
	var pipes []io.Closer
	// Every worker writes to the launcher's stderr: a terminal (the file
	// itself, so rank 0's progress bar shows), or a writer made safe for
	// the copying goroutines.
	errw := c.App.ErrWriter
	if _, ok := errw.(*os.File); !ok {
		errw = &lockedWriter{w: errw}
	}
	defer func() { // every worker's last lines are out before the launcher's
		for _, p := range pipes {
			p.Close()
		}
		outputs.Wait()
	}()
	stopAll := func(sig os.Signal) {
		for _, p := range procs {
			if p.Process != nil {
				_ = p.Process.Signal(sig)
			}
		}
	}
	// Ctrl-C reaches every worker from the terminal: the launcher waits for
	// them to stop after their epoch; SIGTERM is passed on.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	for r := 0; r < n; r++ {
		cmd, err := workerCommand(r, args)
		if err != nil {
			stopAll(os.Kill)
			return err
		}
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
			"WORLD_SIZE="+strconv.Itoa(n), "RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r),
			"LOCAL_WORLD_SIZE="+strconv.Itoa(n), "GROUP_RANK=0")
		if threads != "" {
			cmd.Env = append(cmd.Env, threads)
		}
		if r == 0 {
			cmd.Stdout, cmd.Stderr = c.App.Writer, errw
		} else {
			pw := prefixWriter(errw, fmt.Sprintf("[rank %d] ", r), &outputs)
			pipes = append(pipes, pw)
			cmd.Stdout, cmd.Stderr = pw, pw
		}
		if err := cmd.Start(); err != nil {
			stopAll(os.Kill)
			return fmt.Errorf("--nproc-per-node: start rank %d: %w", r, err)
		}
		procs = append(procs, cmd)
		go func(r int, cmd *exec.Cmd) { done <- exit{r, cmd.Wait()} }(r, cmd)
	}
	var first *exit
	var kill <-chan time.Time
	for left := n; left > 0; {
		select {
		case e := <-done:
			left--
			if e.err != nil && first == nil {
				first = &e
				stopAll(syscall.SIGTERM)
				kill = time.After(10 * time.Second)
			}
		case s := <-sigs:
			if s == syscall.SIGTERM {
				stopAll(s)
			}
		case <-kill:
			stopAll(os.Kill)
		}
	}
	if first == nil {
		return nil
	}
	code := 1
	var ee *exec.ExitError
	if errors.As(first.err, &ee) && ee.ExitCode() > 0 {
		code = ee.ExitCode()
	}
	return cli.Exit(fmt.Sprintf("rank %d of %d failed (%v); stopped the other ranks", first.rank, n, first.err), code)
}

// prefixWriter copies lines written to it onto w, each starting with
// prefix; Close flushes a last partial line.
func prefixWriter(w io.Writer, prefix string, wg *sync.WaitGroup) io.WriteCloser {
	pr, pw := io.Pipe()
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(w, "%s%s\n", prefix, strings.TrimLeft(sc.Text(), "\r"))
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return pw
}

// joinGroup makes this process a rank of the data-parallel run the
// environment describes, or returns nil when there is none. On a CUDA
// device the rank uses cuda:LOCAL_RANK and NCCL.
func joinGroup(c *cli.Context, dev *gotch.Device) (*torch.Group, error) {
	cfg, ok, err := torch.DistFromEnv()
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	if !ok {
		return nil, nil
	}
	if len(torch.DistBackends()) == 0 {
		return nil, cli.Exit(fmt.Sprintf("WORLD_SIZE=%d: this gtl was built without c10d (install libgloo-dev and run make setup)", cfg.World), 2)
	}
	cfg.Timeout = c.Duration("dist-timeout")
	if dev.IsCuda() {
		cfg.Backend = "nccl"
		*dev = gotch.CudaBuilder(uint(cfg.LocalRank))
	}
	g, err := torch.NewGroup(cfg)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
