package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/localstore"
)

// TestServeRefusesPublicBindWithoutToken: without a token, serve listens on
// loopback only; anything else is a usage error (exit 2) before any store
// is opened or port bound.
func TestServeRefusesPublicBindWithoutToken(t *testing.T) {
	t.Setenv(envToken, "")
	for _, addr := range []string{"0.0.0.0:8000", ":8000", "[::]:8000", "192.0.2.1:8000", "example.com:80", "localhost.example.com:80"} {
		t.Run(addr, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			code, _, errs := churnops(t, "serve", "--state", state, "--addr", addr)
			if code != 2 || !strings.Contains(errs, "refusing to listen on "+addr+" without a bearer token") || !strings.Contains(errs, envToken) {
				t.Fatalf("exit %d, stderr %q; want 2 and the refusal", code, errs)
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Errorf("the state directory was created (%v): the refusal must come first", err)
			}
		})
	}
}

func TestCheckBind(t *testing.T) {
	const token = "0123456789abcdef0123"
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8000", "", true},
		{"127.9.8.7:1", "", true},
		{"[::1]:8000", "", true},
		{"localhost:8000", "", true},
		{"0.0.0.0:8000", "", false},
		{":8000", "", false},
		{"10.0.0.5:8000", "", false},
		{"0.0.0.0:8000", token, true},
		{":8000", token, true},
		{"no-port", "", false},
	} {
		if err := checkBind(tc.addr, tc.token); (err == nil) != tc.ok {
			t.Errorf("checkBind(%q, token %v) = %v, want ok=%v", tc.addr, tc.token != "", err, tc.ok)
		}
	}
}

func TestServeTokenSources(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "  0123456789abcdef-from-file\n")
	for _, tc := range []struct {
		name, env, file, want, err string
	}{
		{name: "none"},
		{name: "env", env: "0123456789abcdef-from-env", want: "0123456789abcdef-from-env"},
		{name: "file, trimmed", file: good, want: "0123456789abcdef-from-file"},
		{name: "file wins over env", env: "0123456789abcdef-from-env", file: good, want: "0123456789abcdef-from-file"},
		{name: "short env", env: "short", err: "is 5 bytes; use at least 16"},
		{name: "short file", file: file("short", "tooshort\n"), err: "is 8 bytes"},
		{name: "empty file", file: file("empty", "\n"), err: "is empty"},
		{name: "missing file", file: filepath.Join(dir, "nope"), err: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envToken, tc.env)
			got, err := serveToken(tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("token %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestServeToken runs `churnops serve --token-file` on a loopback port:
// /health answers anyone, /metrics (like every other route) answers 401
// without the token and 200 with it.
func TestServeToken(t *testing.T) {
	t.Setenv(envToken, "")
	const token = "serve-test-token-0123456789"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var code int
	var stderr string
	state := filepath.Join(t.TempDir(), "state")
	// An empty state (serve refuses a directory that holds none).
	fresh, err := localstore.Open(state, localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		var out, errb bytes.Buffer
		code = Main(ctx, []string{"serve", "--state", state, "--addr", addr, "--token-file", tokenFile, "--access-log=false"}, &out, &errb)
		stderr = errb.String()
	})
	defer func() {
		cancel()
		wg.Wait()
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr)
		}
	}()

	get := func(path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var body strings.Builder
		_, _ = fmt.Fprint(&body, resp.Header.Get("WWW-Authenticate"))
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error.Code + " " + body.String()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if status, _ := get("/health", ""); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /health on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, got := get("/metrics", ""); status != http.StatusUnauthorized || !strings.HasPrefix(got, "unauthorized Bearer") {
		t.Errorf("GET /metrics without the token: %d %q, want 401 unauthorized with a Bearer challenge", status, got)
	}
	if status, got := get("/metrics", "Bearer wrong-token-0123456789"); status != http.StatusUnauthorized {
		t.Errorf("GET /metrics with a wrong token: %d %q, want 401", status, got)
	}
	if status, got := get("/metrics", "Bearer "+token); status != http.StatusOK {
		t.Errorf("GET /metrics with the token: %d %q, want 200", status, got)
	}
}
