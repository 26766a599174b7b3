package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
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
	return d.match(h[len(bearerPrefix):]), true
}

// tokenCookie carries the token for a browser, which cannot send an
// Authorization header when it follows a link to a page.
const tokenCookie = "churnops_token"

// match reports whether token is the configured one.
func (d *tokenDigest) match(token string) bool {
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], d[:]) == 1
}

// pageAccess decides a request for one of Config.Pages (the dashboard and
// its reports: read-only) that came without a valid Authorization header.
// A GET or HEAD with the token cookie passes. A GET with ?token=<token> (the
// link `churnops serve` prints) sets that cookie — HttpOnly, SameSite=Strict,
// so no other site's page can use it — and is redirected to the same URL
// without the token, which so leaves the address bar and the history. The
// cookie never admits the API routes: POST /predict still needs the header.
func (s *Service) pageAccess(w http.ResponseWriter, r *http.Request) (ok, answered bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false, false
	}
	if c, err := r.Cookie(tokenCookie); err == nil && s.token.match(c.Value) {
		return true, false
	}
	q := r.URL.Query()
	if !q.Has("token") || !s.token.match(q.Get("token")) {
		return false, false
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q.Get("token"), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	q.Del("token")
	to := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, to.String(), http.StatusSeeOther)
	return true, true
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
