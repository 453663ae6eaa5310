// Package scan finds PII and secrets in strings with one hand-written pass per value,
// validating candidates (Luhn and a card brand table, mod-97, SSN rules, IP parsing,
// libphonenumber for phone numbers) so that ids, timestamps and versions that merely look
// numeric are left alone.
package scan // import "github.com/jobtrace/jobtrace/processor/piiredactionprocessor/internal/scan"

// Kind is a built-in detector.
type Kind uint8

// Built-in detectors. The order is the config order; names are in kindNames.
const (
	Email Kind = iota
	CreditCard
	IBAN
	SSN
	Phone
	IPv4
	IPv6
	JWT
	AuthHeader
	AWSAccessKey
	AWSSecretKey
	GitHubToken
	GitLabToken
	SlackToken
	StripeKey
	PrivateKey
	URLCredentials
	SecretParam
	SecretKeyword
	SecretEntropy
	// NumKinds is the number of built-in detectors; custom rules get ids from NumKinds up.
	NumKinds
)

var kindNames = [NumKinds]string{
	Email:          "email",
	CreditCard:     "credit_card",
	IBAN:           "iban",
	SSN:            "ssn",
	Phone:          "phone",
	IPv4:           "ipv4",
	IPv6:           "ipv6",
	JWT:            "jwt",
	AuthHeader:     "auth_header",
	AWSAccessKey:   "aws_access_key",
	AWSSecretKey:   "aws_secret_key",
	GitHubToken:    "github_token",
	GitLabToken:    "gitlab_token",
	SlackToken:     "slack_token",
	StripeKey:      "stripe_key",
	PrivateKey:     "private_key",
	URLCredentials: "url_credentials",
	SecretParam:    "secret_param",
	SecretKeyword:  "secret_keyword",
	SecretEntropy:  "secret_entropy",
}

func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind maps a config name to a detector.
func ParseKind(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return Kind(k), true
		}
	}
	return 0, false
}

// KindNames lists the built-in detector names in order.
func KindNames() []string {
	out := make([]string, NumKinds)
	copy(out, kindNames[:])
	return out
}

// Match is a half-open byte range [Start, End) of the scanned value found by detector Det.
// Det is a Kind for built-ins and NumKinds+i for the i-th custom rule.
type Match struct {
	Start, End int
	Det        int
}
