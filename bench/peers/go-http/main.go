// The Go net/http peer of examples/http_server.c (/work/shared/HTTP_SERVER.md),
// standard library only, as far as net/http lets the contract be met.
//
//	go build -o /tmp/go-http . && GOMAXPROCS=2 /tmp/go-http --port 0
//
// Flags: --host 127.0.0.1, --port 8080 (0: any free port), --dir ./uploads
// (created), --max-body 1 GiB, --header-timeout-ms 10000,
// --idle-timeout-ms 60000. Prints "listening on http://HOST:PORT" once
// ready; SIGINT/SIGTERM stop accepting, let requests in flight finish (at
// most 10 s) and exit 0.
//
// Routes:
//
//	GET, HEAD /              200 text/plain "Hello, World!"
//	PUT /files/NAME          body streamed to a temporary file in DIR, renamed
//	                         to DIR/NAME when complete; 201 {"name":..,"bytes":..};
//	                         400 for a bad NAME, 413 over --max-body
//	GET, HEAD /files/NAME    the file (http.ServeContent: Content-Length,
//	                         sendfile, ranges); 404 if missing
//	POST /echo               the request body back, Content-Length when the
//	                         request had one, chunked otherwise
//	other paths: 404; a known path with another method: 405 with Allow.
//
// Where net/http differs from the contract: Expect, 417, 501 for an unknown
// Transfer-Encoding and 431 are net/http's own (its header limit is
// MaxHeaderBytes plus 4 KiB of slack); a header timeout closes without a
// 408. HTTP/1.x handlers in Go 1.19 cannot read the request body after the
// response headers went out (ResponseController.EnableFullDuplex is Go
// 1.21), so /echo holds up to 64 KiB in memory and spools a larger body to
// a temporary file in DIR before answering.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const hello = "Hello, World!"

var (
	dir     string
	maxBody int64
	bufs    = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

	helloBody   = []byte(hello)
	textPlain   = []string{"text/plain"}
	helloLength = []string{strconv.Itoa(len(hello))}
)

// validName: [A-Za-z0-9._-]{1,128}, not starting with '.'.
func validName(name string) bool {
	if len(name) < 1 || len(name) > 128 || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func fail(w http.ResponseWriter, code int) {
	http.Error(w, http.StatusText(code), code)
}

func notAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	fail(w, http.StatusMethodNotAllowed)
}

// writerOnly hides *os.File's ReadFrom so that io.CopyBuffer uses our buffer.
type writerOnly struct{ io.Writer }

// copyBody copies the (size-limited) request body to f with a pooled
// 128 KiB buffer.
func copyBody(f *os.File, body io.Reader) (int64, error) {
	b := bufs.Get().(*[]byte)
	defer bufs.Put(b)
	return io.CopyBuffer(writerOnly{f}, body, *b)
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func put(w http.ResponseWriter, r *http.Request, name string) {
	if r.ContentLength > maxBody {
		w.Header().Set("Connection", "close")
		fail(w, http.StatusRequestEntityTooLarge) // before any 100 Continue
		return
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		fail(w, http.StatusInternalServerError)
		return
	}
	tmp := f.Name()
	f.Chmod(0o644) // CreateTemp makes it 0600
	n, err := copyBody(f, http.MaxBytesReader(w, r.Body, maxBody))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		switch {
		case tooLarge(err):
			fail(w, http.StatusRequestEntityTooLarge) // net/http closes after it
		case r.Context().Err() != nil:
			// the client went away
		default:
			w.Header().Set("Connection", "close")
			fail(w, http.StatusBadRequest)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"name":"%s","bytes":%d}`, name, n)
}

func get(w http.ResponseWriter, r *http.Request, name string) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			fail(w, http.StatusNotFound)
		} else {
			fail(w, http.StatusInternalServerError)
		}
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		fail(w, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

func files(w http.ResponseWriter, r *http.Request, name string) {
	switch r.Method {
	case http.MethodPut:
		if !validName(name) {
			fail(w, http.StatusBadRequest)
			return
		}
		put(w, r, name)
	case http.MethodGet, http.MethodHead:
		if !validName(name) {
			fail(w, http.StatusBadRequest)
			return
		}
		get(w, r, name)
	default:
		notAllowed(w, "GET, HEAD, PUT")
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		notAllowed(w, "POST")
		return
	}
	if r.ContentLength > maxBody {
		w.Header().Set("Connection", "close")
		fail(w, http.StatusRequestEntityTooLarge)
		return
	}
	body := http.MaxBytesReader(w, r.Body, maxBody)
	b := bufs.Get().(*[]byte)
	defer bufs.Put(b)
	small := (*b)[:64<<10]
	n, err := 0, error(nil)
	for n < len(small) && err == nil {
		var m int
		m, err = body.Read(small[n:])
		n += m
	}
	if err == io.EOF { // all of it in memory
		if r.ContentLength >= 0 {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		w.Write(small[:n])
		return
	}
	var f *os.File
	if err == nil {
		if f, err = os.CreateTemp(dir, ".echo-*"); err == nil {
			os.Remove(f.Name()) // unnamed from now on
			defer f.Close()
			if _, err = f.Write(small); err == nil {
				var rest int64
				rest, err = io.CopyBuffer(writerOnly{f}, body, (*b)[64<<10:])
				n += int(rest)
			}
		}
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		switch {
		case tooLarge(err):
			fail(w, http.StatusRequestEntityTooLarge)
		case r.Context().Err() != nil:
		default:
			w.Header().Set("Connection", "close")
			fail(w, http.StatusBadRequest)
		}
		return
	}
	if r.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.Itoa(n))
	}
	io.Copy(w, f)
}

type server struct{}

func (server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			notAllowed(w, "GET, HEAD")
			return
		}
		h := w.Header()
		h["Content-Type"] = textPlain
		h["Content-Length"] = helloLength
		w.Write(helloBody)
	case path == "/echo":
		echo(w, r)
	case len(path) >= len("/files/") && path[:len("/files/")] == "/files/":
		files(w, r, path[len("/files/"):])
	default:
		fail(w, http.StatusNotFound)
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8080, "port (0: any free port)")
	flag.StringVar(&dir, "dir", "./uploads", "directory for PUT /files/NAME (created)")
	flag.Int64Var(&maxBody, "max-body", 1<<30, "largest request body in bytes")
	headerMS := flag.Int("header-timeout-ms", 10000, "time allowed for the request head")
	idleMS := flag.Int("idle-timeout-ms", 60000, "idle keep-alive connections close after this")
	flag.Parse()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "go-http:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-http:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler:           server{},
		ReadHeaderTimeout: time.Duration(*headerMS) * time.Millisecond,
		IdleTimeout:       time.Duration(*idleMS) * time.Millisecond,
		MaxHeaderBytes:    8 << 10,
	}
	done := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	fmt.Printf("listening on http://%s\n", ln.Addr())
	os.Stdout.Sync()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "go-http:", err)
		os.Exit(1)
	}
	<-done
}
