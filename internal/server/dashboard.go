package server

import (
	"net/http"
)

// handleDashboard serves the dashboard (dashboard.html, self-contained).
func (s *Server) handleDashboard(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte("<!doctype html><title>pgparity</title><h1>pgparity</h1>")) //nolint:errcheck // the client went away
}
