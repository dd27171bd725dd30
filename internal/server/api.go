package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/history"
)

// route is one endpoint: the OpenAPI document lists exactly these (openapi_test.go).
type route struct {
	Method, Path string // Path in OpenAPI spelling: /v1/jobs/{id}
	Role         string // least role; POST /v1/jobs checks the command's role too
	handle       func(s *Server, w http.ResponseWriter, r *http.Request)
}

// routes are the API's endpoints.
var routes = []route{
	{"GET", "/", cluster.RoleViewer, (*Server).handleDashboard},
	{"GET", "/metrics", cluster.RoleViewer, (*Server).handleMetrics},
	{"GET", "/v1/openapi.json", cluster.RoleViewer, (*Server).handleOpenAPI},
	{"POST", "/v1/jobs", cluster.RoleOperator, (*Server).handlePostJob},
	{"GET", "/v1/jobs", cluster.RoleViewer, (*Server).handleListJobs},
	{"GET", "/v1/jobs/{id}", cluster.RoleViewer, (*Server).handleGetJob},
	{"DELETE", "/v1/jobs/{id}", cluster.RoleOperator, (*Server).handleCancelJob},
	{"GET", "/v1/jobs/{id}/files/{name}", cluster.RoleViewer, (*Server).handleJobFile},
	{"GET", "/v1/history", cluster.RoleViewer, (*Server).handleHistory},
}

// Handler is the API's HTTP handler: every route behind the role check.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		pattern := rt.Method + " " + rt.Path
		if rt.Path == "/" {
			pattern += "{$}"
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			_, role, err := s.identity(r)
			switch {
			case err != nil:
				writeError(w, http.StatusForbidden, err.Error())
			case !allowed(role, rt.Role):
				writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s (needs %s)", role, rt.Method, rt.Path, rt.Role))
			default:
				rt.handle(s, w, r)
			}
		})
	}
	return mux
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) { writeJSON(w, code, errorBody{msg}) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away
}

// handlePostJob validates a job as the command line validates its flags and enqueues it.
func (s *Server) handlePostJob(w http.ResponseWriter, r *http.Request) {
	cn, role, _ := s.identity(r)
	var req Request
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return
	}
	row, err := s.Enqueue(r.Context(), req, cn, role)
	switch {
	case errors.Is(err, errForbidden):
		writeError(w, http.StatusForbidden, err.Error())
	case fault.IsInput(err):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"id": strconv.FormatInt(row.ID, 10), "status": StateQueued})
	}
}

// jobRow reads the job the path's {id} names; it writes the error response itself. With cached,
// the row may be up to rowCacheTTL old.
func (s *Server) jobRow(w http.ResponseWriter, r *http.Request, cached bool) (*rivertype.JobRow, *jobArgs, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "no such job")
		return nil, nil, false
	}
	var row *rivertype.JobRow
	if cached {
		row, err = s.rows.get(r.Context(), id, s.queue().JobGet)
	} else {
		row, err = s.queue().JobGet(r.Context(), id)
	}
	if errors.Is(err, river.ErrNotFound) || (err == nil && row.Kind != jobKind) {
		writeError(w, http.StatusNotFound, "no such job")
		return nil, nil, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return nil, nil, false
	}
	var args jobArgs
	if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
		writeError(w, http.StatusInternalServerError, "job arguments: "+err.Error())
		return nil, nil, false
	}
	return row, &args, true
}

func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	if row, args, ok := s.jobRow(w, r, true); ok {
		writeJSON(w, http.StatusOK, view(row, args))
	}
}

func (s *Server) handleCancelJob(w http.ResponseWriter, r *http.Request) {
	row, args, ok := s.jobRow(w, r, false)
	if !ok {
		return
	}
	if v := view(row, args); v.FinishedAt != nil {
		writeError(w, http.StatusConflict, "job "+v.ID+" already ended: "+v.Status)
		return
	}
	row, err := s.queue().JobCancel(r.Context(), row.ID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	v := view(row, args)
	if row.State == rivertype.JobStateRunning {
		v.Status = "cancelling" // the instance running it cancels it
	}
	writeJSON(w, http.StatusAccepted, v)
}

func (s *Server) handleListJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := queryInt(q.Get("limit"), 100, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	jobs, err := s.ListJobs(r.Context(), q.Get("status"), q.Get("command"), limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs})
}

func (s *Server) handleJobFile(w http.ResponseWriter, r *http.Request) {
	row, args, ok := s.jobRow(w, r, true)
	if !ok {
		return
	}
	rec := readRecord(row)
	name := r.PathValue("name")
	if rec == nil || rec.Outcome == nil || rec.Outcome.Files[name] == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %d (%s) has no file %q", row.ID, args.Request.Command, name))
		return
	}
	http.ServeFile(w, r, rec.Outcome.Files[name]) // a path the job itself wrote, never the client's
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := queryInt(q.Get("limit"), 100, 10000)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := history.RunFilter{Cluster: q.Get("cluster"), Table: q.Get("table"), Command: q.Get("command"), Limit: limit}
	if v := q.Get("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(w, http.StatusBadRequest, "since: use RFC 3339")
			return
		}
	}
	runs, err := s.hist.Runs(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]runView, len(runs))
	for i, run := range runs {
		out[i] = newRunView(run)
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument) //nolint:errcheck // the client went away
}

func queryInt(v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("limit must be 1 to %d", max)
	}
	return n, nil
}
