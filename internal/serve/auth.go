package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// MinTokenLen is the shortest bearer token Config.Token accepts, in bytes:
// a token is a shared secret, and a short one can be guessed.
const MinTokenLen = 16

// bearerPrefix starts an Authorization header carrying a bearer token
// (RFC 6750); the scheme is case-insensitive.
const bearerPrefix = "bearer "

// tokenDigest is the SHA-256 of the configured token. Comparing digests in
// constant time reveals neither where a guess first differs nor the
// token's length.
type tokenDigest [sha256.Size]byte

// authorized reports whether r carries "Authorization: Bearer <token>"
// with the configured token.
func (d *tokenDigest) authorized(r *http.Request) (ok, present bool) {
	h := r.Header.Get("Authorization")
	if len(h) <= len(bearerPrefix) || !equalFoldASCII(h[:len(bearerPrefix)], bearerPrefix) {
		return false, h != ""
	}
	got := sha256.Sum256([]byte(h[len(bearerPrefix):]))
	return subtle.ConstantTimeCompare(got[:], d[:]) == 1, true
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// refuse answers a request without the token: 401 with the stable error
// body and a WWW-Authenticate challenge.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, present bool) {
	id := s.requestID(r)
	w.Header().Set("X-Request-Id", id)
	e := &Error{Code: CodeUnauthorized,
		Message: "this server requires a bearer token: send the header Authorization: Bearer <token>"}
	challenge := `Bearer realm="churnops"`
	if present {
		e.Message = "the bearer token in the Authorization header is not valid"
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	s.writeError(w, r, id, e)
}
