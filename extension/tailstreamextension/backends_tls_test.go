package tailstreamextension

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/jobtrace/jobtrace/internal/testutil/configtest"
)

// testCA is a private certificate authority that signs the test's server and client
// certificates, so nothing is trusted that the system trusts.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jobtrace test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a leaf certificate for 127.0.0.1 (server) or a client, returning PEM cert and key.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// A Zipkin backend behind TLS with a private CA that also requires a client certificate:
// the backend's confighttp settings (tls.ca_file, tls.cert_file, tls.key_file, headers)
// are what make the fetch work.
func TestBackendOverTLSWithCustomCA(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	srvCert, srvKey := ca.issue(t, "zipkin", x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := ca.issue(t, "jobtrace", x509.ExtKeyUsageClientAuth)
	certFile, keyFile := writeFile(t, dir, "client.pem", cliCert), writeFile(t, dir, "client-key.pem", cliKey)

	body, err := os.ReadFile("internal/backends/testdata/zipkin_trace.json")
	require.NoError(t, err)
	var gotClient, gotHeader string
	zk := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			gotClient = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		gotHeader = r.Header.Get("X-Scope-OrgID")
		switch r.URL.Path {
		case "/api/v2/trace/" + zipkinTrace:
			_, _ = w.Write(body)
		case "/api/v2/services":
			_, _ = w.Write([]byte(`["order-api"]`))
		default:
			http.NotFound(w, r)
		}
	}))
	zk.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshakes fail on purpose
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	zk.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	zk.StartTLS()
	defer zk.Close()

	withTLS := func(c *Config) {
		c.Backends = []BackendConfig{backendConfig("zipkin-tls", "zipkin", zk.URL, func(b *BackendConfig) {
			b.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}}
			b.Headers.Set("X-Scope-OrgID", "tenant-1")
		})}
	}
	srv := startTraceServer(t, withTLS)
	code, out := srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code, "%v", out)
	assert.Equal(t, "backend", out["source"])
	assert.EqualValues(t, 5, out["spans_count"])
	assert.Equal(t, "jobtrace", gotClient, "the client certificate was presented")
	assert.Equal(t, "tenant-1", gotHeader)

	// A runtime PUT that names the backend keeps its TLS settings and headers, which the API
	// cannot express.
	gotClient, gotHeader = "", ""
	code, out = srv.api(t, http.MethodPut, "/config/tracing", tokAdmin,
		`{"backends":[{"name":"zipkin-tls","type":"zipkin","endpoint":"`+zk.URL+`"}]}`)
	require.Equal(t, http.StatusOK, code, "%v", out)
	code, out = srv.get(t, "/health/tracing?probe=true", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", out["status"], "%v", out)
	assert.Equal(t, "jobtrace", gotClient)
	assert.Equal(t, "tenant-1", gotHeader)

	// Without the CA the server's certificate is not trusted: the backend fails, the API says so.
	srv = startTraceServer(t, func(c *Config) {
		withTLS(c)
		c.Backends[0].TLS.CAFile = ""
	})
	code, out = srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, errorOf(t, out)["message"], "every tracing backend failed")
	code, out = srv.get(t, "/health/tracing", tokViewer)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, out["backends"].([]any)[0].(map[string]any)["last_error"], "certificate")
}

// The YAML keys of a backend: the old ones (endpoint, timeout, headers as a map) keep working,
// confighttp's (tls, auth, proxy_url, ...) are accepted, and bad values name their key.
func TestBackendClientConfigKeys(t *testing.T) {
	cfg, err := configtest.Load[*Config](t, filepath.Join("testdata", "config_traces.yaml"),
		component.MustNewIDWithName("tailstream", "tls_backend"), NewFactory())
	require.NoError(t, err)
	require.Len(t, cfg.Backends, 1)
	b := cfg.Backends[0]
	assert.Equal(t, "https://jaeger.internal:16686", b.Endpoint)
	assert.Equal(t, 2*time.Second, b.Timeout)
	v, ok := b.Headers.Get("X-Scope-OrgID")
	assert.True(t, ok)
	assert.Equal(t, "tenant-1", string(v))
	assert.Equal(t, "/etc/jobtrace/ca.pem", b.TLS.CAFile)
	assert.Equal(t, "jaeger.internal", b.TLS.ServerName)
	assert.Equal(t, 90*time.Second, b.IdleConnTimeout, "confighttp's client defaults apply to list elements")

	_, err = configtest.Load[*Config](t, filepath.Join("testdata", "config_traces.yaml"),
		component.MustNewIDWithName("tailstream", "bad_tls_backend"), NewFactory())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backends[0].tls: provide either a CA file or the PEM-encoded string")
	assert.Contains(t, err.Error(), "backends[0].proxy_url: scheme must be http or https")
}

// A backend whose TLS files cannot be read fails Start, naming the backend.
func TestBackendTLSFileMissingFailsStart(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Backends = []BackendConfig{backendConfig("j", "jaeger", "https://127.0.0.1:1", func(b *BackendConfig) {
		b.TLS.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	})}
	require.NoError(t, cfg.Validate(), "the file is read at start, as collector components do")
	ext := newTailstream(cfg, extensiontest.NewNopSettings(typ))
	err := ext.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backends[0]")
	assert.Contains(t, err.Error(), "missing.pem")
	require.NoError(t, ext.Shutdown(context.Background()))
}

// bearerAuth is a client auth extension (extensionauth.HTTPClient) that adds a bearer token.
type bearerAuth struct {
	component.StartFunc
	component.ShutdownFunc
	token string
}

func (a bearerAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+a.token)
		return base.RoundTrip(r)
	}), nil
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// hostWith is a host whose extensions are exts.
type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

// A backend's auth.authenticator resolves to the collector's auth extension at Start.
func TestBackendAuthExtension(t *testing.T) {
	var got string
	body, err := os.ReadFile("internal/backends/testdata/zipkin_trace.json")
	require.NoError(t, err)
	zk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		if got != "Bearer from-extension" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(body)
	}))
	defer zk.Close()

	authID := component.MustNewIDWithName("bearertokenauth", "zipkin")
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	traceUsers(cfg)
	cfg.Backends = []BackendConfig{backendConfig("zk", "zipkin", zk.URL, func(b *BackendConfig) {
		b.Auth = configoptional.Some(configauth.Config{AuthenticatorID: authID})
	})}
	require.NoError(t, cfg.Validate())

	// Without the extension the start fails, naming the backend.
	ext := newTailstream(cfg, extensiontest.NewNopSettings(typ))
	err = ext.Start(context.Background(), hostWith{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backends[0]")
	assert.Contains(t, err.Error(), authID.String())
	require.NoError(t, ext.Shutdown(context.Background()))

	ext = newTailstream(cfg, extensiontest.NewNopSettings(typ))
	require.NoError(t, ext.Start(context.Background(), hostWith{authID: bearerAuth{token: "from-extension"}}))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	srv := &testServer{ext: ext, base: "http://" + ext.Addr()}
	code, out := srv.get(t, "/traces/"+zipkinTrace+"/summary", tokViewer)
	require.Equal(t, http.StatusOK, code, "%v", out)
	assert.Equal(t, "Bearer from-extension", got)
	assert.EqualValues(t, 5, out["spans_count"])
}
