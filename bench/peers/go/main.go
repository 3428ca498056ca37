// Command corio-peers holds the Go peer programs that corio's own
// benchmarks are compared against. Each subcommand prints one line per
// figure, "name value unit", using the same figure names as corio.
//
//	go run . [-n N] [-v] <sub>      (flags may also follow <sub>)
//
// With -n N (or env PEER_N=N) and N > 1, the program re-executes itself N
// times, one fresh process per repetition, and prints the median of each
// figure. Fresh processes keep repetitions independent (heap, stacks and
// RSS left behind by one run cannot flatter the next).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// figure is one reported number.
type figure struct {
	name  string
	value float64
	unit  string
}

type benchFunc func() ([]figure, error)

var benches = []struct {
	name string
	fn   benchFunc
	help string
}{
	{"switch", benchSwitch, "Gosched ping-pong between two goroutines, GOMAXPROCS=1 -> switch_ns"},
	{"spawn", benchSpawn, "1M empty goroutines, joined in batches of 1000 -> spawn_join_per_s"},
	{"skynet", benchSkynet, "skynet 1M-leaf 10-ary goroutine tree -> skynet_ms"},
	{"fanout", benchFanout, "parallel fib(32), GOMAXPROCS 1 vs 2 -> fanout_speedup"},
	{"idle_rss", benchIdleRSS, "100k goroutines blocked on a channel -> idle_rss_kib"},
	{"chan", benchChan, "unbuffered ping-pong, cap-128 stream -> chan_pingpong_ns, chan_buffered_per_s"},
	{"mutex", benchMutex, "8 goroutines on one sync.Mutex, GOMAXPROCS=2 -> mutex_contended_per_s"},
	{"timer", benchTimer, "10,000 goroutines each sleep 1 ms at once -> timer_late_p50_us, timer_late_p99_us"},
}

var verbose bool

func vlog(format string, args ...interface{}) {
	if verbose {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: corio-peers [-n N] [-v] <sub>\nsubcommands:\n")
	for _, b := range benches {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", b.name, b.help)
	}
	fmt.Fprintf(os.Stderr, "  %-9s %s\n", "all", "every subcommand above, in order")
	os.Exit(2)
}

func main() {
	n := 1
	if s := os.Getenv("PEER_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			fmt.Fprintf(os.Stderr, "bad PEER_N %q\n", s)
			os.Exit(2)
		}
		n = v
	}
	fs := flag.NewFlagSet("corio-peers", flag.ExitOnError)
	fs.Usage = usage
	fs.IntVar(&n, "n", n, "repetitions (fresh process each); prints the median")
	fs.BoolVar(&verbose, "v", false, "details on stderr")
	// Accept flags both before and after the subcommand.
	var pos []string
	args := os.Args[1:]
	for {
		fs.Parse(args)
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 || n < 1 {
		usage()
	}
	sub := pos[0]

	names := []string{sub}
	if sub == "all" {
		names = names[:0]
		for _, b := range benches {
			names = append(names, b.name)
		}
	}
	failed := false
	for _, name := range names {
		fn := lookup(name)
		if fn == nil {
			usage()
		}
		var figs []figure
		var err error
		if n == 1 && sub != "all" {
			figs, err = fn()
		} else {
			figs, err = repeat(name, n)
		}
		for _, f := range figs {
			fmt.Printf("%s %s %s\n", f.name, format(f.value), f.unit)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func lookup(name string) benchFunc {
	for _, b := range benches {
		if b.name == name {
			return b.fn
		}
	}
	return nil
}

// repeat runs one subcommand n times in child processes and returns the
// median of every figure.
func repeat(name string, n int) ([]figure, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var order []string
	units := map[string]string{}
	vals := map[string][]float64{}
	for i := 0; i < n; i++ {
		args := []string{"-n", "1"}
		if verbose {
			args = append(args, "-v")
		}
		cmd := exec.Command(exe, append(args, name)...)
		cmd.Stderr = os.Stderr
		cmd.Env = append(os.Environ(), "PEER_N=1")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("run %d: %v", i+1, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				return nil, fmt.Errorf("bad line %q", sc.Text())
			}
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("bad line %q", sc.Text())
			}
			if _, ok := units[f[0]]; !ok {
				order = append(order, f[0])
				units[f[0]] = f[2]
			}
			vals[f[0]] = append(vals[f[0]], v)
		}
		vlog("%s run %d: %s", name, i+1, strings.Join(strings.Fields(string(out)), " "))
	}
	var figs []figure
	for _, k := range order {
		figs = append(figs, figure{k, median(vals[k]), units[k]})
	}
	return figs, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func format(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
