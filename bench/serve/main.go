// Command serve is a load generator for the /predict service: it POSTs
// single-user (or batch) prediction requests from a fixed number of
// concurrent clients for a bounded time and prints throughput and latency
// percentiles.
//
//	go run ./bench/serve -url http://127.0.0.1:8000/predict -duration 10s \
//	    -concurrency 64 -users-file data/month_001/users.csv
//
// It only talks plain HTTP to loopback addresses (127.0.0.0/8, ::1, or a
// localhost that resolves only to those), so a typo cannot turn it on
// someone else's server, and it stops after -duration (at most 5m) or
// -requests. Each client holds one keep-alive connection and sends
// pre-rendered requests, so that the generator spends little of the CPU it
// shares with the server it measures.
//
// Two ways to load:
//
//   - closed loop (default): each client sends its next request when the
//     last one is answered, so the run finds the most the server can do,
//     and latency is per exchange, from write to the last byte of the
//     response. A slow server lowers the offered load rather than queueing
//     it, and at saturation the latencies are mostly the clients' own queue.
//   - open loop (-rate N): requests are due on a fixed schedule of N per
//     second, whatever the server does, and each latency counts from the
//     moment its request was due, so time spent waiting for a free
//     connection behind a slow answer is counted too (no "coordinated
//     omission"). This is the latency a service shows at a given load.
//
// With -baseline ADDR it loads nothing and instead serves, on a loopback
// ADDR, a stand-in /predict that reads the request and answers a fixed
// prediction of the real size. Loading it the same way as the real service
// measures what this machine, its kernel, net/http and the load generator
// cost without churnops: the ceiling of any net/http /predict here, which
// makes figures from noisy or small machines comparable.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits on what one run may do.
const (
	maxDuration    = 5 * time.Minute
	maxConcurrency = 1024
	maxRate        = 1_000_000
)

// config is one run's settings.
type config struct {
	URL         string
	Duration    time.Duration
	Concurrency int
	Requests    int64   // stop after this many requests; 0: duration only
	Rate        float64 // open loop: requests due per second; 0: closed loop
	Batch       int     // 0: {"user_id"}; n: {"user_ids"} of n users
	Timeout     time.Duration
	Users       []string
}

// result is what a run measured.
type result struct {
	Requests  int64
	Errors    int64 // transport errors (no HTTP response)
	Status    map[int]int64
	Elapsed   time.Duration
	Latencies []time.Duration // sorted, successful HTTP exchanges only
	FirstErr  error
	// Unsent counts open-loop requests that were due but not answered when
	// the run ended (in flight, or queued for a connection because the
	// server fell behind).
	Unsent int64
}

func (r result) throughput() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// percentile returns the p-th percentile (0 < p <= 100) of sorted durations
// by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// checkLoopback refuses URLs whose host is not a loopback address.
func checkLoopback(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" {
		return fmt.Errorf("url %q: scheme must be http", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("url %q has no host", raw)
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("refusing non-loopback host %s: this tool only loads local servers", host)
		}
		return nil
	}
	if !strings.EqualFold(host, "localhost") {
		return fmt.Errorf("refusing host %q: use 127.0.0.1, ::1 or localhost", host)
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("localhost resolves to non-loopback %s", ip.IP)
		}
	}
	return nil
}

// readUsers reads user ids from a file: either one id per line, or a CSV
// (such as a month's users.csv) with a user_id column.
func readUsers(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	var ids []string
	if bytes.Contains(first, []byte(",")) || strings.TrimSpace(string(first)) == "user_id" {
		r := csv.NewReader(bytes.NewReader(data))
		header, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		col := slices.Index(header, "user_id")
		if col < 0 {
			return nil, fmt.Errorf("%s: CSV without a user_id column", path)
		}
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if id := strings.TrimSpace(rec[col]); id != "" {
				ids = append(ids, id)
			}
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if id := strings.TrimSpace(sc.Text()); id != "" && !strings.HasPrefix(id, "#") {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: no user ids", path)
	}
	return ids, nil
}

// bodies pre-builds request bodies so the clients only send.
func bodies(users []string, batch int) ([][]byte, error) {
	var out [][]byte
	if batch <= 0 {
		for _, u := range users {
			b, err := json.Marshal(map[string]string{"user_id": u})
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	}
	for i := 0; i < len(users); i += batch {
		ids := make([]string, 0, batch)
		for j := range batch {
			ids = append(ids, users[(i+j)%len(users)])
		}
		b, err := json.Marshal(map[string][]string{"user_ids": ids})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// run drives the load until the duration passes, the request budget is
// spent or ctx is cancelled.
func run(ctx context.Context, cfg config) (result, error) {
	if err := checkLoopback(ctx, cfg.URL); err != nil {
		return result{}, err
	}
	switch {
	case cfg.Duration <= 0 || cfg.Duration > maxDuration:
		return result{}, fmt.Errorf("duration must be in (0, %v]", maxDuration)
	case cfg.Concurrency < 1 || cfg.Concurrency > maxConcurrency:
		return result{}, fmt.Errorf("concurrency must be in [1, %d]", maxConcurrency)
	case len(cfg.Users) == 0:
		return result{}, errors.New("no users")
	case cfg.Rate < 0 || cfg.Rate > maxRate:
		return result{}, fmt.Errorf("rate must be in [0, %d] requests/s", maxRate)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	reqBodies, err := bodies(cfg.Users, cfg.Batch)
	if err != nil {
		return result{}, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return result{}, err
	}
	reqs := make([][]byte, len(reqBodies))
	for i, b := range reqBodies {
		reqs[i] = rawRequest(u, b)
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		mu       sync.Mutex
		res      = result{Status: map[int]int64{}}
		wg       sync.WaitGroup
		start    = time.Now()
		firstErr atomic.Pointer[error]
	)
	// client runs one connection: next hands it the number of its next
	// request and the time that request was due (zero: measure from the
	// write), until next says stop.
	client := func(next func() (n int64, due time.Time, ok bool)) {
		c := &conn{addr: u.Host, timeout: cfg.Timeout}
		defer c.close()
		lat := make([]time.Duration, 0, 1024)
		status := map[int]int64{}
		var errs int64
		for {
			n, due, ok := next()
			if !ok {
				break
			}
			t0 := time.Now()
			if !due.IsZero() {
				t0 = due
			}
			code, err := c.do(ctx, reqs[int(n)%len(reqs)])
			d := time.Since(t0)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, errRunOver) {
					break // the run ended mid-request: not a server error
				}
				firstErr.CompareAndSwap(nil, &err)
				errs++
				time.Sleep(10 * time.Millisecond) // do not spin on a dead server
				continue
			}
			status[code]++
			lat = append(lat, d)
		}
		mu.Lock()
		res.Latencies = append(res.Latencies, lat...)
		for k, v := range status {
			res.Status[k] += v
			res.Requests += v
		}
		res.Errors += errs
		res.Requests += errs
		mu.Unlock()
	}

	if cfg.Rate == 0 {
		var counter atomic.Int64
		next := func() (int64, time.Time, bool) {
			n := counter.Add(1) - 1
			return n, time.Time{}, ctx.Err() == nil && (cfg.Requests == 0 || n < cfg.Requests)
		}
		for range cfg.Concurrency {
			wg.Go(func() { client(next) })
		}
	} else {
		// The schedule: request n is due at start + n/rate. A dispatcher
		// queues each request when it falls due; a client takes it when its
		// connection is free. The queue holds a few seconds of requests so
		// that the dispatcher keeps time while the server lags.
		queue := make(chan int64, min(int(cfg.Rate*4)+cfg.Concurrency, 4<<20))
		dueAt := func(n int64) time.Time {
			return start.Add(time.Duration(float64(n) / cfg.Rate * float64(time.Second)))
		}
		next := func() (int64, time.Time, bool) {
			select {
			case n, ok := <-queue:
				return n, dueAt(n), ok && ctx.Err() == nil
			case <-ctx.Done():
				return 0, time.Time{}, false
			}
		}
		for range cfg.Concurrency {
			wg.Go(func() { client(next) })
		}
		var sent int64
		func() {
			defer close(queue)
			for ctx.Err() == nil && (cfg.Requests == 0 || sent < cfg.Requests) {
				due := int64(time.Since(start).Seconds()*cfg.Rate) + 1
				if cfg.Requests > 0 {
					due = min(due, cfg.Requests)
				}
				for ; sent < due; sent++ {
					select {
					case queue <- sent:
					case <-ctx.Done():
						return
					}
				}
				// Sleep until the next request is due; the runtime wakes us
				// a little late, and the next round catches up.
				time.Sleep(time.Until(dueAt(sent)))
			}
		}()
		wg.Wait()
		res.Unsent = sent - res.Requests
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if p := firstErr.Load(); p != nil {
		res.FirstErr = *p
	}
	slices.Sort(res.Latencies)
	return res, nil
}

func (r result) print(w io.Writer, cfg config) {
	mode := "single-user requests"
	if cfg.Batch > 0 {
		mode = fmt.Sprintf("batches of %d users", cfg.Batch)
	}
	fmt.Fprintf(w, "target       %s (%s, %d distinct users)\n", cfg.URL, mode, len(cfg.Users))
	if cfg.Rate > 0 {
		fmt.Fprintf(w, "load         open loop: %.0f req/s due, on %d connections, for %v\n", cfg.Rate, cfg.Concurrency, r.Elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "load         closed loop: %d clients for %v\n", cfg.Concurrency, r.Elapsed.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "requests     %d  (%.0f req/s)  transport errors %d\n", r.Requests, r.throughput(), r.Errors)
	if cfg.Rate > 0 && r.Unsent > r.Requests/100 {
		fmt.Fprintf(w, "behind       %d requests due were not answered: the server did not keep up with %.0f req/s, and the latencies below are mostly queueing\n", r.Unsent, cfg.Rate)
	}
	codes := make([]int, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", c, r.Status[c]))
	}
	fmt.Fprintf(w, "status       %s\n", strings.Join(parts, "  "))
	l := r.Latencies
	from := "write to response"
	if cfg.Rate > 0 {
		from = "due time to response"
	}
	fmt.Fprintf(w, "latency      p50 %v  p90 %v  p99 %v  p99.9 %v  max %v  (%s)\n",
		percentile(l, 50), percentile(l, 90), percentile(l, 99), percentile(l, 99.9), percentile(l, 100), from)
	if r.FirstErr != nil {
		fmt.Fprintf(w, "first error  %v\n", r.FirstErr)
	}
}

// baselineBody is what the stand-in /predict answers: a real default
// response of churnops serve for one user (no include, so no features_used).
var baselineBody = []byte(`{"user_id":"7590-VHVEG","churn_probability":0.6271822453,"prediction":1,` +
	`"model_name":"churn","model_version":3,"as_of":"2024-04-30"}`)

// baselineHandler is the stand-in /predict: read the body, answer 200 with
// baselineBody.
func baselineHandler() http.Handler {
	length := strconv.Itoa(len(baselineBody))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/predict" {
			http.Error(w, "POST /predict only", http.StatusNotFound)
			return
		}
		if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10)); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		_, _ = w.Write(baselineBody)
	})
}

// serveBaseline serves baselineHandler on a loopback addr until ctx ends.
func serveBaseline(ctx context.Context, addr string) error {
	if err := checkLoopback(ctx, "http://"+addr+"/"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: baselineHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "bench/serve: baseline /predict on http://%s (Ctrl-C stops)\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func main() {
	var cfg config
	var usersFile, users, baseline string
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:8000/predict", "/predict URL (loopback only)")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run (at most 5m)")
	flag.IntVar(&cfg.Concurrency, "concurrency", 64, "concurrent clients (at most 1024)")
	flag.Int64Var(&cfg.Requests, "requests", 0, "stop after this many requests (0: run for -duration)")
	flag.Float64Var(&cfg.Rate, "rate", 0, "open loop: requests due per second, latency counted from when each was due (0: closed loop, as fast as answers come)")
	flag.IntVar(&cfg.Batch, "batch", 0, "users per request (0: single-user {\"user_id\"} requests)")
	flag.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "per-request timeout")
	flag.StringVar(&usersFile, "users-file", "", "user ids: one per line, or a CSV with a user_id column (e.g. users.csv)")
	flag.StringVar(&users, "users", "", "comma-separated user ids (instead of -users-file)")
	flag.StringVar(&baseline, "baseline", "", "serve a stand-in /predict with a fixed answer on this loopback host:port instead of loading (a machine's net/http ceiling)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if baseline != "" {
		if err := serveBaseline(ctx, baseline); err != nil {
			fmt.Fprintln(os.Stderr, "bench/serve:", err)
			os.Exit(2)
		}
		return
	}

	switch {
	case usersFile != "":
		ids, err := readUsers(usersFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/serve:", err)
			os.Exit(2)
		}
		cfg.Users = ids
	case users != "":
		cfg.Users = strings.Split(users, ",")
	default:
		fmt.Fprintln(os.Stderr, "bench/serve: give -users-file or -users")
		os.Exit(2)
	}
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(2)
	}
	res.print(os.Stdout, cfg)
	if res.Errors > 0 || len(res.Latencies) == 0 {
		os.Exit(1)
	}
}

// rawRequest renders one POST as HTTP/1.1 bytes, once, so that sending it
// costs a single write.
func rawRequest(u *url.URL, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), u.Host, len(body))
	b.Write(body)
	return b.Bytes()
}

// conn is one client's keep-alive connection. A thin HTTP/1.1 client
// (write the pre-rendered request, parse the response with
// http.ReadResponse) costs the load generator a fraction of what
// net/http's Transport does, which matters when it shares the machine's
// cores with the server it measures.
type conn struct {
	addr    string
	timeout time.Duration
	c       net.Conn
	r       *bufio.Reader
}

// do sends req and returns the response status, reconnecting as needed.
func (c *conn) do(ctx context.Context, req []byte) (int, error) {
	if c.c == nil {
		d := net.Dialer{Timeout: c.timeout}
		nc, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.c, c.r = nc, bufio.NewReaderSize(nc, 16<<10)
	}
	dl := time.Now().Add(c.timeout)
	end, ok := ctx.Deadline()
	runEnds := ok && end.Before(dl)
	if runEnds {
		dl = end // the run's end interrupts a pending exchange
	}
	_ = c.c.SetDeadline(dl)
	code, err := c.exchange(req)
	if err != nil && runEnds && !time.Now().Before(end) {
		return 0, errRunOver
	}
	return code, err
}

// errRunOver reports an exchange cut short by the end of the run.
var errRunOver = errors.New("run over")

func (c *conn) exchange(req []byte) (int, error) {
	if _, err := c.c.Write(req); err != nil {
		c.close()
		return 0, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, err
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c, c.r = nil, nil
	}
}
