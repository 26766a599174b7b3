package serve

import "net/http"

// withPages routes the requests Config.Pages has a route for to it, and
// the others to api; without Pages it is api.
func (s *Service) withPages(api http.Handler) http.Handler {
	pages := s.cfg.Pages
	if pages == nil {
		return api
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Handler only tells whether a route matches; ServeHTTP routes
		// again and sets the path values the route reads.
		if _, pattern := pages.Handler(r); pattern != "" {
			pages.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// isPage reports whether Config.Pages has a route for r.
func (s *Service) isPage(r *http.Request) bool {
	if s.cfg.Pages == nil {
		return false
	}
	_, pattern := s.cfg.Pages.Handler(r)
	return pattern != ""
}
