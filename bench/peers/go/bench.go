package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ---- switch ---------------------------------------------------------------

// benchSwitch: with GOMAXPROCS=1, two goroutines each call runtime.Gosched
// in a loop, so every Gosched hands the only P to the other goroutine.
// switch_ns = elapsed / total Gosched calls (one yield = one switch).
func benchSwitch() ([]figure, error) {
	const perG = 5_000_000
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)

	run := func(iters int) time.Duration {
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		for g := 0; g < 2; g++ {
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < iters; i++ {
					runtime.Gosched()
				}
			}()
		}
		runtime.Gosched() // let both reach <-start
		t0 := time.Now()
		close(start)
		wg.Wait()
		return time.Since(t0)
	}
	run(100_000) // warm-up
	d := run(perG)
	ns := float64(d.Nanoseconds()) / float64(2*perG)
	vlog("switch: %d yields in %v", 2*perG, d)
	return []figure{{"switch_ns", ns, "ns"}}, nil
}

// ---- spawn ----------------------------------------------------------------

// benchSpawn: 1M empty goroutines, spawned 1000 at a time and joined with
// one sync.WaitGroup per batch. GOMAXPROCS from the environment.
func benchSpawn() ([]figure, error) {
	const total, batch = 1_000_000, 1000
	run := func(n int) time.Duration {
		t0 := time.Now()
		for done := 0; done < n; done += batch {
			var wg sync.WaitGroup
			wg.Add(batch)
			for i := 0; i < batch; i++ {
				go func() { wg.Done() }()
			}
			wg.Wait()
		}
		return time.Since(t0)
	}
	run(10 * batch) // warm-up
	d := run(total)
	vlog("spawn: %d goroutines in %v (GOMAXPROCS=%d)", total, d, runtime.GOMAXPROCS(0))
	return []figure{{"spawn_join_per_s", float64(total) / d.Seconds(), "ops/s"}}, nil
}

// ---- skynet ---------------------------------------------------------------

// skynet is the classic Go version (github.com/atemerev/skynet): each node
// spawns 10 children on one unbuffered channel and sums what they send.
func skynet(c chan int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sub := size / div
	for i := 0; i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func benchSkynet() ([]figure, error) {
	const leaves, want = 1_000_000, 499999500000
	c := make(chan int)
	t0 := time.Now()
	go skynet(c, 0, leaves, 10)
	sum := <-c
	d := time.Since(t0)
	vlog("skynet: sum %d in %v (GOMAXPROCS=%d)", sum, d, runtime.GOMAXPROCS(0))
	figs := []figure{{"skynet_ms", float64(d.Microseconds()) / 1000, "ms"}}
	if sum != want {
		return figs, fmt.Errorf("skynet sum %d, want %d", sum, want)
	}
	return figs, nil
}

// ---- fanout ---------------------------------------------------------------

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// pfib splits fib(n) into a goroutine per call until depth reaches 0
// (2^depth leaves at most), then runs plain fib.
func pfib(n, depth int) int {
	if depth == 0 || n < 2 {
		return fib(n)
	}
	var a int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		a = pfib(n-1, depth-1)
		wg.Done()
	}()
	b := pfib(n-2, depth-1)
	wg.Wait()
	return a + b
}

// benchFanout: parallel fib(32), cutoff depth 8 (<=256 goroutines), timed
// with GOMAXPROCS=1 and GOMAXPROCS=2 in the same process. Each setting is
// run `reps` times, interleaved 1,2,1,2,..., and the sums are compared.
func benchFanout() ([]figure, error) {
	const n, depth, want, reps = 32, 8, 2178309, 30
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)

	var t [3]time.Duration
	runtime.GOMAXPROCS(2)
	pfib(n, depth) // warm-up
	for r := 0; r < reps; r++ {
		for _, p := range []int{1, 2} {
			runtime.GOMAXPROCS(p)
			t0 := time.Now()
			got := pfib(n, depth)
			t[p] += time.Since(t0)
			if got != want {
				return nil, fmt.Errorf("fib(%d) = %d, want %d", n, got, want)
			}
		}
	}
	vlog("fanout: fib(%d) x%d  P=1 %v  P=2 %v", n, reps, t[1]/reps, t[2]/reps)
	return []figure{{"fanout_speedup", t[1].Seconds() / t[2].Seconds(), "x"}}, nil
}

// ---- idle_rss -------------------------------------------------------------

func vmRSSKiB() (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			fs := strings.Fields(sc.Text()) // VmRSS: 1234 kB
			if len(fs) >= 2 {
				return strconv.Atoi(fs[1])
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}

// benchIdleRSS: VmRSS before and after parking 100k goroutines on one
// channel receive; idle_rss_kib = delta / 100k. Must run in a fresh process
// (the runtime keeps freed stacks), which -n guarantees.
func benchIdleRSS() ([]figure, error) {
	const n = 100_000
	runtime.GC()
	before, err := vmRSSKiB()
	if err != nil {
		return nil, err
	}
	block := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-block
			exited.Done()
		}()
	}
	started.Wait()
	// Let every goroutine actually reach <-block (started.Done ran just before).
	for i := 0; i < 10; i++ {
		runtime.Gosched()
	}
	time.Sleep(20 * time.Millisecond)
	after, err := vmRSSKiB()
	if err != nil {
		return nil, err
	}
	close(block)
	exited.Wait()
	vlog("idle_rss: VmRSS %d -> %d KiB for %d goroutines", before, after, n)
	return []figure{{"idle_rss_kib", float64(after-before) / n, "KiB"}}, nil
}

// ---- chan -----------------------------------------------------------------

// benchChan: (1) unbuffered ping-pong: one goroutine sends on ping, the other
// answers on pong; chan_pingpong_ns = elapsed / round trips. (2) one producer
// and one consumer over a capacity-128 channel; chan_buffered_per_s = items
// received / elapsed. GOMAXPROCS from the environment.
func benchChan() ([]figure, error) {
	const trips, items = 1_000_000, 10_000_000

	pingpong := func(n int) time.Duration {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
			close(pong)
		}()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			ping <- i
			<-pong
		}
		d := time.Since(t0)
		close(ping)
		<-pong
		return d
	}
	pingpong(10_000) // warm-up
	dp := pingpong(trips)

	c := make(chan int, 128)
	go func() {
		for i := 0; i < items; i++ {
			c <- i
		}
		close(c)
	}()
	t0 := time.Now()
	sum := 0
	for v := range c {
		sum += v
	}
	db := time.Since(t0)
	if sum != items*(items-1)/2 {
		return nil, fmt.Errorf("buffered sum %d, want %d", sum, items*(items-1)/2)
	}
	vlog("chan: %d round trips in %v, %d items in %v (GOMAXPROCS=%d)", trips, dp, items, db, runtime.GOMAXPROCS(0))
	return []figure{
		{"chan_pingpong_ns", float64(dp.Nanoseconds()) / trips, "ns"},
		{"chan_buffered_per_s", items / db.Seconds(), "ops/s"},
	}, nil
}

// ---- mutex ----------------------------------------------------------------

// benchMutex: GOMAXPROCS=2, 8 goroutines each do lock; counter++; unlock
// `per` times on one sync.Mutex; mutex_contended_per_s = total / elapsed.
func benchMutex() ([]figure, error) {
	const workers, per = 8, 1_000_000
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)

	var mu sync.Mutex
	counter := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			<-start
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	d := time.Since(t0)
	vlog("mutex: %d lock/unlock in %v", workers*per, d)
	figs := []figure{{"mutex_contended_per_s", float64(workers*per) / d.Seconds(), "ops/s"}}
	if counter != workers*per {
		return figs, fmt.Errorf("counter %d, want %d", counter, workers*per)
	}
	return figs, nil
}

// ---- timer ----------------------------------------------------------------

// benchTimer: corio-bench timer's job. 10,000 goroutines are started and
// wait at a gate (a closed channel), so that starting them is not
// measured; the gate opens and each sleeps 1 ms (time.Sleep) and notes
// how late it woke, in microseconds past 1 ms.
func benchTimer() ([]figure, error) {
	const sleepers = 10000
	late := make([]float64, sleepers)
	gate := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(sleepers)
	done.Add(sleepers)
	for i := 0; i < sleepers; i++ {
		go func(i int) {
			ready.Done()
			<-gate
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			late[i] = float64(time.Since(t0)-time.Millisecond) / 1e3
			done.Done()
		}(i)
	}
	ready.Wait()
	close(gate)
	done.Wait()
	sort.Float64s(late)
	return []figure{
		{"timer_late_p50_us", late[sleepers/2], "us"},
		{"timer_late_p99_us", late[sleepers*99/100], "us"},
	}, nil
}
