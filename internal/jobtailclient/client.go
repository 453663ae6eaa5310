// Package jobtailclient is a client of the tailstream extension's API: jobs, job traces,
// trace summaries, correlation, and live log streams over WebSocket with reconnection and
// seq-based resume. jobtail uses it; any other Go tool (the queue's own TUI) can too.
package jobtailclient // import "github.com/jobtrace/jobtrace/internal/jobtailclient"

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the tailstream extension's default listen address.
const DefaultEndpoint = "localhost:8088"

const apiBase = "/api/v1"

// Options configure a Client.
type Options struct {
	// Endpoint is host:port or a URL (http://, https://). Without a scheme, https is used
	// when a CA file is given or verification is skipped, http otherwise.
	Endpoint string
	// Token is sent as "Authorization: Bearer <token>".
	Token string
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
	// InsecureSkipVerify disables server certificate verification (testing only).
	InsecureSkipVerify bool
	// Timeout bounds each request/response call (not the live streams). Default 10 s.
	Timeout time.Duration
	// HTTPClient overrides the transport (tests).
	HTTPClient *http.Client
}

// Client talks to one tailstream endpoint. It is safe for concurrent use.
type Client struct {
	base    *url.URL // scheme://host[:port]/api/v1
	token   string
	http    *http.Client
	timeout time.Duration
}

// New builds a client. It fails on a malformed endpoint or an unreadable CA file.
func New(opts Options) (*Client, error) {
	endpoint := strings.TrimSpace(opts.Endpoint)
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if !strings.Contains(endpoint, "://") {
		scheme := "http"
		if opts.CAFile != "" || opts.InsecureSkipVerify {
			scheme = "https"
		}
		endpoint = scheme + "://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", opts.Endpoint, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", opts.Endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: missing host", opts.Endpoint)
	}
	// Accept an endpoint given with or without the API prefix.
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), apiBase) + apiBase
	u.RawQuery, u.Fragment = "", ""

	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.CAFile != "" || opts.InsecureSkipVerify {
			tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify} //nolint:gosec // opt-in flag
			if opts.CAFile != "" {
				pem, rerr := os.ReadFile(opts.CAFile)
				if rerr != nil {
					return nil, fmt.Errorf("ca-file: %w", rerr)
				}
				pool, perr := x509.SystemCertPool()
				if perr != nil || pool == nil {
					pool = x509.NewCertPool()
				}
				if !pool.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("ca-file %s: no PEM certificates found", opts.CAFile)
				}
				tlsCfg.RootCAs = pool
			}
			tr.TLSClientConfig = tlsCfg
		}
		hc = &http.Client{Transport: tr}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Client{base: u, token: opts.Token, http: hc, timeout: timeout}, nil
}

// BaseURL is the API base, e.g. http://localhost:8088/api/v1.
func (c *Client) BaseURL() string { return c.base.String() }

// Endpoint is the host:port the client talks to, for display.
func (c *Client) Endpoint() string { return c.base.Host }

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (c *Client) wsURL(streamID string) string {
	u := *c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = c.base.Path + "/logs/streams/" + url.PathEscape(streamID)
	return u.String()
}

func (c *Client) authHeader(h http.Header) {
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
}

// do sends one request and decodes a 2xx JSON body into out (when non-nil). Any other
// status becomes an *APIError, built from the server's error body when it has one.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authHeader(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseAPIError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func parseAPIError(status int, data []byte) *APIError {
	var body struct {
		Error *APIError `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != nil {
		body.Error.StatusCode = status
		return body.Error
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &APIError{StatusCode: status, Code: strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_"), Message: msg}
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// ListJobs calls GET /jobs.
func (c *Client) ListJobs(ctx context.Context, q JobsQuery) (*JobsPage, error) {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("queue", q.Queue)
	set("status", q.Status)
	set("worker_id", q.WorkerID)
	set("cursor", q.Cursor)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/jobs", v, nil, &raw); err != nil {
		return nil, err
	}
	page := &JobsPage{}
	// A bare array is accepted too: it carries the same jobs without paging.
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(raw, &page.Jobs); err != nil {
			return nil, fmt.Errorf("GET /jobs: decode answer: %w", err)
		}
		return page, nil
	}
	if err := json.Unmarshal(raw, page); err != nil {
		return nil, fmt.Errorf("GET /jobs: decode answer: %w", err)
	}
	return page, nil
}

// JobTrace calls GET /jobs/{id}/trace.
func (c *Client) JobTrace(ctx context.Context, jobID string) (*JobTrace, error) {
	out := &JobTrace{}
	if err := c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/trace", nil, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// TraceSummary calls GET /traces/{id}/summary.
func (c *Client) TraceSummary(ctx context.Context, traceID string) (*TraceSummary, error) {
	out := &TraceSummary{}
	if err := c.do(ctx, http.MethodGet, "/traces/"+url.PathEscape(traceID)+"/summary", nil, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// TraceSummaryRaw returns the summary exactly as the server sent it (for --json output).
func (c *Client) TraceSummaryRaw(ctx context.Context, traceID string) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/traces/"+url.PathEscape(traceID)+"/summary", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Correlation calls GET /correlation/{job_id} and returns the CorrelationIndex undecoded:
// jobtail only passes it through.
func (c *Client) Correlation(ctx context.Context, jobID string) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/correlation/"+url.PathEscape(jobID), nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateStream calls POST /logs/streams. Validation errors come back as *APIError with the
// offending field (e.g. filters.ottl) so a UI can show them next to the input.
func (c *Client) CreateStream(ctx context.Context, req StreamRequest) (*StreamInfo, error) {
	out := &StreamInfo{}
	if err := c.do(ctx, http.MethodPost, "/logs/streams", nil, req, out); err != nil {
		return nil, err
	}
	if out.StreamID == "" {
		return nil, errors.New("POST /logs/streams: answer has no stream_id")
	}
	return out, nil
}

// DeleteStream calls DELETE /logs/streams/{id}. A stream that is already gone is not an error.
func (c *Client) DeleteStream(ctx context.Context, streamID string) error {
	err := c.do(ctx, http.MethodDelete, "/logs/streams/"+url.PathEscape(streamID), nil, nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}
