package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/churnops/churnops/internal/serve"
)

// envToken is the environment variable that carries `churnops serve`'s
// bearer token when --token-file is not given.
const envToken = "CHURNOPS_TOKEN"

// serveToken returns the bearer token serve requires: the contents of
// tokenFile (surrounding whitespace trimmed, so `echo … > file` works) if
// given, else $CHURNOPS_TOKEN, else "" (no token). A token that is set but
// empty or shorter than serve.MinTokenLen is a usage error: a typo must not
// leave the server open.
func serveToken(tokenFile string) (string, error) {
	src, token := "$"+envToken, os.Getenv(envToken)
	if tokenFile != "" {
		data, err := os.ReadFile(tokenFile)
		if errors.Is(err, fs.ErrNotExist) {
			return "", usagef("--token-file %s: no such file", tokenFile)
		}
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		src, token = "--token-file "+tokenFile, strings.TrimSpace(string(data))
		if token == "" {
			return "", usagef("%s is empty", src)
		}
	}
	if token != "" && len(token) < serve.MinTokenLen {
		return "", usagef("the token from %s is %d bytes; use at least %d (e.g. openssl rand -hex 32)", src, len(token), serve.MinTokenLen)
	}
	return token, nil
}

// checkBind refuses to serve addr without a token unless addr only accepts
// connections from this machine: a loopback IP or "localhost". An empty
// host (":8000"), 0.0.0.0, :: and any other name or address are public;
// names are not resolved (what one resolves to can change), so a name
// other than localhost counts as public too.
func checkBind(addr, token string) error {
	if token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--addr %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usagef("refusing to listen on %s without a bearer token: anyone who can reach it could query predictions; "+
		"set %s or pass --token-file FILE, or listen on 127.0.0.1", addr, envToken)
}
