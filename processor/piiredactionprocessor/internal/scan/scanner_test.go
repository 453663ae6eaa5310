package scan

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type hit struct {
	kind string
	text string
}

func scanHits(s *Scanner, v string) []hit {
	var out []hit
	for _, m := range s.Scan(v, nil) {
		name := "custom"
		if m.Det < int(NumKinds) {
			name = Kind(m.Det).String()
		}
		out = append(out, hit{name, v[m.Start:m.End]})
	}
	return out
}

func TestDetectors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []hit
	}{
		{"email", "mail bob@example.com now", []hit{{"email", "bob@example.com"}}},
		{"email plus tag and subdomain", "<a.b+c@mail.example.co.uk>", []hit{{"email", "a.b+c@mail.example.co.uk"}}},
		{"email trailing dot", "write to ann@example.org.", []hit{{"email", "ann@example.org"}}},
		{"not email: npm version", "left-pad@1.3.0", nil},
		{"not email: single label", "deploy@localhost", nil},
		{"card spaced", "4111 1111 1111 1111", []hit{{"credit_card", "4111 1111 1111 1111"}}},
		{"card dashed", "x 5555-5555-5555-4444 y", []hit{{"credit_card", "5555-5555-5555-4444"}}},
		{"card amex grouping", "3782 822463 10005", []hit{{"credit_card", "3782 822463 10005"}}},
		{"card bad luhn", "4111111111111112", nil},
		{"card unknown iin", "9111111111111111 1234567812345670", nil},
		{"card glued to letters", "4111111111111111abc", nil},
		{"card mixed separators", "4111-1111 1111-1111", nil},
		{"two cards", "4111111111111111 5555555555554444", []hit{{"credit_card", "4111111111111111"}, {"credit_card", "5555555555554444"}}},
		{"iban", "DE89370400440532013000", []hit{{"iban", "DE89370400440532013000"}}},
		{"iban grouped", "DE89 3704 0044 0532 0130 00!", []hit{{"iban", "DE89 3704 0044 0532 0130 00"}}},
		{"iban bad checksum", "DE89370400440532013001", nil},
		{"iban wrong length", "DE8937040044053201300", nil},
		{"ssn", "ssn 123-45-6789", []hit{{"ssn", "123-45-6789"}}},
		{"ssn area 000", "000-45-6789", nil},
		{"ssn area 666", "666-45-6789", nil},
		{"ssn area 9xx", "912-45-6789", nil},
		{"ssn group 00", "123-00-6789", nil},
		{"ssn serial 0000", "123-45-0000", nil},
		{"phone e164", "+4915112345678", []hit{{"phone", "+4915112345678"}}},
		{"phone e164 grouped", "+1 (555) 123-4567", []hit{{"phone", "+1 (555) 123-4567"}}},
		{"phone nanp", "(415) 555-2671 / 415.555.2671", []hit{{"phone", "(415) 555-2671"}, {"phone", "415.555.2671"}}},
		{"phone trunk", "020 7946 0958", []hit{{"phone", "020 7946 0958"}}},
		{"not phone: date", "2024-01-15", nil},
		{"not phone: datetime", "2024-01-15 10:30:00", nil},
		{"not phone: timezone", "10:00:00+01:00", nil},
		{"not phone: bare id", "5551234567", nil},
		{"not phone: version", "v10.2.3", nil},
		{"not phone: uuid", "123e4567-e89b-12d3-a456-426614174000", nil},
		{"not phone: digit uuid", "12345678-1234-4234-a716-426614174000", nil},
		{"not phone: duration", "1500ms 2.5s", nil},
		{"not phone: price", "$1,234.56 1234.56", nil},
		{"phone: area 1xx is still written as a phone", "123-456-7890", []hit{{"phone", "123-456-7890"}}},
		{"not phone: order number", "order 123-456-7890", nil},
		{"ipv4", "from 10.0.0.1:8080", []hit{{"ipv4", "10.0.0.1"}}},
		{"ipv4 bad octet", "256.1.1.1", nil},
		{"ipv4 leading zero", "10.01.1.1", nil},
		{"ipv4 five parts", "1.2.3.4.5", nil},
		{"ipv6", "peer 2001:db8::1 up", []hit{{"ipv6", "2001:db8::1"}}},
		{"ipv6 bracketed", "[fe80::1]:443", []hit{{"ipv6", "fe80::1"}}},
		{"ipv6 loopback", "on ::1", []hit{{"ipv6", "::1"}}},
		{"not ipv6: time", "12:30:45 and 12:30:45.123Z", nil},
		{"not ipv6: unspecified", "bind :: port", nil},
		{"jwt", "t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", []hit{{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}}},
		{"not jwt: two segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", nil},
		{"bearer", "Authorization: Bearer abc123def456", []hit{{"auth_header", "abc123def456"}}},
		{"basic", "Authorization: Basic dXNlcjpwYXNz", []hit{{"auth_header", "dXNlcjpwYXNz"}}},
		{"not basic: english", "basic authentication failed", nil},
		{"not bearer: english", "bearer authentication required", nil},
		{"aws access key", "AKIAIOSFODNN7EXAMPLE", []hit{{"aws_access_key", "AKIAIOSFODNN7EXAMPLE"}}},
		{"not aws: too long", "AKIAIOSFODNN7EXAMPLEX", nil},
		{"aws secret key=value", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []hit{{"aws_secret_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}},
		{"github classic", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", []hit{{"github_token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"}}},
		{"github short is not a token", "ghp_short", nil},
		{"gitlab", "glpat-xxxxxxxxxxxxxxxxxxxx", []hit{{"gitlab_token", "glpat-xxxxxxxxxxxxxxxxxxxx"}}},
		{"slack", "xoxb-123456789012-abcdefghij", []hit{{"slack_token", "xoxb-123456789012-abcdefghij"}}},
		{"stripe", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", []hit{{"stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}}},
		{"pem", "a -----BEGIN EC PRIVATE KEY-----\nAAA\n-----END EC PRIVATE KEY----- b", []hit{{"private_key", "-----BEGIN EC PRIVATE KEY-----\nAAA\n-----END EC PRIVATE KEY-----"}}},
		{"pem truncated masks to end", "-----BEGIN PRIVATE KEY-----\nAAAA", []hit{{"private_key", "-----BEGIN PRIVATE KEY-----\nAAAA"}}},
		{"pem certificate is public", "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----", nil},
		{"url credentials", "redis://u:pw@host:6379", []hit{{"url_credentials", "u:pw"}}},
		{"url user only", "https://u@host/x", nil},
		{"query token", "/cb?token=abc&x=1", []hit{{"secret_param", "abc"}}},
		{"logfmt suffix match", "db_password=pw1 max_tokens=5", []hit{{"secret_param", "pw1"}}},
		{"json param", `{"api_key": "k-123"}`, []hit{{"secret_param", "k-123"}}},
		{"not param: comparison", "token==nil", nil},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, scanHits(s, tt.in))
		})
	}
}

func TestDisabledDetectors(t *testing.T) {
	s := New(Options{Disabled: []Kind{IPv4, IPv6, Email}})
	assert.Nil(t, scanHits(s, "10.0.0.1 ::1 a@example.com"))
	assert.Equal(t, []hit{{"credit_card", "4111111111111111"}}, scanHits(s, "a@example.com 4111111111111111"))
}

func TestSecretParamsOverride(t *testing.T) {
	s := New(Options{SecretParams: []string{"X-Session"}})
	assert.Equal(t, []hit{{"secret_param", "abc"}}, scanHits(s, "x-session=abc password=pw"))
}

func TestCustomRules(t *testing.T) {
	emp, err := NewRule(`EMP-[0-9]{6}`, "")
	require.NoError(t, err)
	luhnAcct, err := NewRule(`ACCT[0-9]{8}`, "luhn")
	require.NoError(t, err)
	s := New(Options{Rules: []Rule{emp, luhnAcct}})
	ms := s.Scan("emp EMP-123456 acct ACCT00000018 bad ACCT00000017 mail a@example.com", nil)
	require.Len(t, ms, 3)
	assert.Equal(t, int(NumKinds), ms[0].Det)
	assert.Equal(t, int(NumKinds)+1, ms[1].Det)
	assert.Equal(t, int(Email), ms[2].Det)
	assert.Equal(t, "EMP", requiredLiteral(`EMP-[0-9]{6}`)[:3])
	assert.Empty(t, requiredLiteral(`(?i)secret`))

	_, err = NewRule(`(`, "")
	require.Error(t, err)
	_, err = NewRule(`x`, "nope")
	require.ErrorContains(t, err, `unknown validator "nope"`)
}

func TestOverlapKeepsEarlier(t *testing.T) {
	r, err := NewRule(`example\.com 4111`, "")
	require.NoError(t, err)
	s := New(Options{Rules: []Rule{r}})
	ms := s.Scan("a@example.com 4111111111111111", nil)
	for i := 1; i < len(ms); i++ {
		assert.LessOrEqual(t, ms[i-1].End, ms[i].Start)
	}
}

func TestValidators(t *testing.T) {
	assert.True(t, Luhn("79927398713"))
	assert.False(t, Luhn("79927398710"))
	assert.False(t, Luhn("0"))
	assert.True(t, ValidCard("4111-1111-1111-1111"))
	assert.False(t, ValidCard("1111-1111-1111-1117"))
	assert.True(t, ValidIBAN("GB82 WEST 1234 5698 7654 32"))
	assert.True(t, ValidIBAN("gb82west12345698765432"))
	assert.True(t, ValidIBAN("de89 3704 0044 0532 0130 00"))
	assert.False(t, ValidIBAN("gb82west1234569876543"))
	assert.False(t, ValidIBAN("XX82WEST12345698765432"))
	assert.True(t, ValidSSN("078-05-1120"))
	assert.False(t, ValidSSN("078-05-112"))
	assert.True(t, ValidIPv4("255.255.255.255"))
	assert.False(t, ValidIPv4("1.2.3"))
	assert.False(t, ValidIPv4("1.2.3.1000"))
	assert.True(t, ValidIPv6("::ffff:10.0.0.1"))
	assert.False(t, ValidIPv6("10.0.0.1"))
	assert.False(t, ValidIPv6("fe80::1%eth0"))
	assert.True(t, validBasic("dXNlcjpwYXNz"))
	assert.False(t, validBasic("aGVsbG8="))
	for _, n := range ValidatorNames() {
		_, ok := Validator(n)
		assert.True(t, ok, n)
	}
	k, ok := ParseKind("credit_card")
	assert.True(t, ok)
	assert.Equal(t, CreditCard, k)
	_, ok = ParseKind("nope")
	assert.False(t, ok)
	assert.Equal(t, "unknown", Kind(200).String())
}

// A long value with no candidates must not allocate.
func TestScanNoAllocOnCleanValue(t *testing.T) {
	s := New(Options{Rules: []Rule{mustRule(t, `EMP-[0-9]{6}`)}})
	v := strings.Repeat("job completed in 15ms on worker host-1 queue high_priority ", 20)
	var buf [8]Match
	allocs := testing.AllocsPerRun(100, func() { _ = s.Scan(v, buf[:0]) })
	assert.Zero(t, allocs)
}

func mustRule(t *testing.T, p string) Rule {
	r, err := NewRule(p, "")
	require.NoError(t, err)
	return r
}

var _ = regexp.MustCompile
