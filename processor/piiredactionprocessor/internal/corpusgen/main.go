// Command corpusgen writes the labelled piiredaction corpus: log-like lines built from
// templates with realistic values (Luhn-valid cards of every brand, mod-97-valid IBANs, phone
// numbers in national and international formats, passwords, API keys, AWS keys) and lines
// that must stay untouched (ids, hashes, timestamps, prices, versions, durations, ports, UUIDs,
// trace ids, phone-like order numbers without context).
//
// Each group has two template lists: the tune half is written from the first, the held-out
// half from the second ("fresh"), which was written after the detectors were frozen and never
// tuned against, so held-out lines are phrased in ways the detectors have not seen. Run from the repository root:
//
//	go run ./processor/piiredactionprocessor/internal/corpusgen
//
// Output is deterministic for a seed and committed under testdata/generated.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Span is a labelled byte range of Line.Text.
type Span struct {
	Start    int    `json:"start"`
	End      int    `json:"end"`
	Detector string `json:"detector"`
}

// Line is one corpus line.
type Line struct {
	Text     string `json:"text"`
	Spans    []Span `json:"spans"`
	Template string `json:"template"`
}

var gens = map[string]gen{
	"card":     {"credit_card", card("visa", "mastercard", "amex", "discover", "jcb", "jcb15", "diners", "maestro", "unionpay", "mir")},
	"card_new": {"credit_card", card("jcb", "jcb15", "diners", "maestro", "unionpay", "mir", "discover")},
	"maestro12": {"credit_card", func(r *rand.Rand) string {
		return cardDigits(r, brand{[]string{"5018", "5020", "6759", "6304"}, []int{12}, nil})
	}},
	"phone":      {"phone", anyPhone},
	"phone_us":   {"phone", usPhone},
	"phone_uk":   {"phone", ukPhone},
	"phone_de":   {"phone", dePhone},
	"phone_fr":   {"phone", frPhone},
	"phone_in":   {"phone", inPhone},
	"phone_br":   {"phone", brPhone},
	"phone_au":   {"phone", auPhone},
	"phone_es":   {"phone", esPhone},
	"phone_bare": {"phone", barePhone},
	"iban":       {"iban", iban},
	"email":      {"email", email},
	"ssn":        {"ssn", ssn},
	"password":   {"secret", password},
	"apikey":     {"secret", apiKey},
	"token":      {"secret", entropyToken},
	"aws_secret": {"aws_secret_key", awsSecret},
	"aws_key_id": {"aws_access_key", awsKeyID},

	"uuid":     {"", uuid},
	"trace":    {"", func(r *rand.Rand) string { return randFrom(r, hexLow, 32) }},
	"span":     {"", func(r *rand.Rand) string { return randFrom(r, hexLow, 16) }},
	"sha256":   {"", func(r *rand.Rand) string { return randFrom(r, hexLow, 64) }},
	"sha1":     {"", func(r *rand.Rand) string { return randFrom(r, hexLow, 40) }},
	"iso":      {"", isoTime},
	"epoch":    {"", epoch},
	"price":    {"", price},
	"version":  {"", version},
	"duration": {"", duration},
	"hostport": {"", hostPort},
	"order":    {"", orderNumber},
	"account":  {"", accountID},
	"worker":   {"", workerID},
	"path":     {"", filePath},
	"int":      {"", func(r *rand.Rand) string { return fmt.Sprint(r.IntN(5000)) }},
	"user":     {"", func(r *rand.Rand) string { return pick(r, firstNames) }},
}

// group is a family of templates and its share of the lines. templates write the tune half;
// fresh ones, written after the detectors were frozen and never run before that, write the
// held-out half.
type group struct {
	name      string
	weight    int
	templates []string
	fresh     []string
}

var groups = []group{
	{"card", 16, []string{
		"payment declined for card {card} (reason=insufficient_funds)",
		"charge ok card={card} amount={price}",
		"retrying capture on {card} attempt {int} of 3",
		"customer {user} paid with {card} at {iso}",
		"refund issued to card {card_new} for order {order}",
		"card number {card} failed 3-D Secure, trace {trace}",
		"stripe webhook: card {card_new} expired, job {trace}",
		"billing: updated default card to {card} for account {account}",
		"jcb/maestro/diners test card {card_new} accepted",
		"tokenising pan {card} took {duration}",
		"maestro card {maestro12} declined",
		"fraud check flagged {card} from {hostport}",
		"{iso} worker {worker} charged {card} {price}",
		"pan={card_new} status=approved",
	}, []string{
		"checkout error: {\"pan\": \"{card}\", \"code\": \"do_not_honor\"}",
		"Card {card_new} was declined by issuer at {iso}",
		"saved payment method {card} for {email}",
		"chargeback opened on card ending in the full number {card}",
		"POS terminal read {card_new}; approved",
		"level=warn msg=\"3ds timeout\" card={card} latency={duration}",
		"user {user} entered card no. {card} twice",
		"subscription renewal charged to {card_new} ({price})",
		"the customer's JCB {card_new} failed AVS",
		"debit card: {card}",
	}},
	{"phone", 22, []string{
		"call {phone} to confirm the delivery",
		"customer phone {phone} updated by {user}",
		"sms to {phone} failed: carrier timeout after {duration}",
		"please contact {phone_uk} about ticket resolution",
		"callback requested: {phone_us}",
		"tel: {phone_de} (office)",
		"reach me at {phone_fr} after 6pm",
		"mobile {phone_in} verified at {iso}",
		"telefone {phone_br} cadastrado",
		"notify {phone_au} when job {trace} finishes",
		"fax {phone_us} not reachable",
		"whatsapp {phone_es} opted in",
		"call me on {phone_bare} tomorrow",
		"phone number: {phone_bare}",
		"emergency contact {phone} for {user}",
		"dialled {phone_uk} from {hostport}",
		"contact {phone_es} re: invoice",
		"user {user} left number {phone} in notes",
		"support line {phone_uk} is busy",
		"SMS code sent to {phone} (attempt {int})",
	}, []string{
		"Customer called from {phone_uk} asking about job {trace}",
		"level=info msg=\"otp sent\" phone={phone}",
		"please ring {phone_au} before delivery",
		"mobile: {phone_in}",
		"Kontakt: Tel. {phone_de}",
		"contacter le {phone_fr} pour la livraison",
		"WhatsApp message to {phone_br} queued",
		"their phone is {phone_us}",
		"callback number {phone_us} verified",
		"Call {phone_bare} to reschedule",
		"driver phone {phone_es} unreachable",
		"{\"event\":\"sms_failed\",\"to\":\"{phone}\"}",
		"voicemail left at {phone_uk} by {user}",
		"text {phone} with the tracking link",
	}},
	{"iban", 9, []string{
		"sepa debit {iban} bounced for {email}",
		"payout to iban {iban} scheduled at {iso}",
		"refund to {iban} amount {price}",
		"bank account {iban} verified",
		"IBAN: {iban}",
		"transfer from {iban} rejected (code AC04)",
		"updated payout account to {iban} for {user}",
		"direct debit mandate {iban} created in {duration}",
	}, []string{
		"{\"iban\":\"{iban}\",\"status\":\"pending\"}",
		"Beneficiary account {iban} added by {user}",
		"SEPA credit transfer to {iban} failed: AC01",
		"payout iban={iban} amount={price}",
		"customer changed bank details to {iban}",
	}},
	{"secret", 15, []string{
		"login for {user} failed: password is {password}",
		"password: {password}",
		"user {user} changed passwd to {password}",
		"api key: {apikey}",
		"using apikey {apikey} for upload",
		"retry with token={apikey} in prose",
		"the secret for the db is {password}",
		"config dump: api_key: {apikey} region=eu-west-1",
		"access key: {apikey}",
		"{user}'s token was rotated, new one {token}",
		"private key is {token}",
		"secret for the staging cluster: {token}",
		"DB_PASSWORD={password} exported by {user}",
		"admin password was {password} before reset",
		"connecting with token {token} to {hostport}",
		"set the api key to {token} and restart",
	}, []string{
		"connection string used password: {password}",
		"level=error msg=\"auth failed\" password={password}",
		"Your new password is {password}",
		"api key {apikey} has been revoked",
		"export API_KEY={apikey}",
		"{\"token\": \"{apikey}\", \"expires_in\": 3600}",
		"x-api-key header was {apikey}",
		"the deploy token is {token}",
		"webhook secret: {token}",
		"generated access key {apikey} for {user}",
		"SECRET={password} in .env committed by {user}",
		"reset link sent; temporary password {password}",
	}},
	{"aws", 6, []string{
		"aws secret {aws_secret} leaked in build log",
		"credentials {aws_key_id} {aws_secret} rejected",
		"using access key {aws_key_id} and secret {aws_secret}",
		"AWS_SECRET_ACCESS_KEY is {aws_secret}",
		"s3 client: key id {aws_key_id}, secret {aws_secret}",
		"the secret was {aws_secret} (rotated at {iso})",
	}, []string{
		"AWS credentials found: aws_access_key_id={aws_key_id} aws_secret_access_key={aws_secret}",
		"leaked key pair {aws_key_id}:{aws_secret} in repo",
		"secret access key {aws_secret} exposed in CI output",
		"boto3 session with secret {aws_secret} expired",
	}},
	{"other", 4, []string{
		"welcome mail to {email} bounced",
		"kyc failed for ssn {ssn}",
		"invite sent to {email} by {user}",
		"ssn {ssn} matched two applicants",
	}, []string{
		"password reset mail sent to {email}",
		"applicant ssn: {ssn}",
	}},
	{"clean", 28, []string{
		"job {trace} completed in {duration}",
		"job completed id={trace} span={span} worker={worker}",
		"request {uuid} served by {hostport} in {duration}",
		"order {order} shipped at {iso}",
		"order {order} total {price}",
		"invoice {order} paid {price}",
		"batch {order} processed in {duration}",
		"deploy {version} commit {sha1} at {iso}",
		"artifact sha256:{sha256} pushed",
		"ts={epoch} level=info msg=\"enqueued job\" queue=jobqueue:high_priority",
		"aws account {account} region eu-west-1 quota {int}",
		"listening on {hostport} (pid {int})",
		"password reset requested for {user} at {iso}",
		"token expired for user {int}, refreshing",
		"secret rotation completed in {duration}",
		"api key missing for tenant {int}",
		"password is required",
		"token refresh took {duration}",
		"max_tokens: {int} tokenizer: bpe",
		"file {path} size {int} bytes checksum {sha1}",
		"trace {trace} span {span} parent {span}",
		"price changed from {price} to {price}",
		"version {version} released {iso}",
		"retry {int} of 5 after {duration}, epoch {epoch}",
		"worker {worker} heartbeat at {epoch}",
		"uuid={uuid} ref={order}",
		"connected to {hostport} with tls {version}",
		"queue depth {int} at {iso}, oldest job {trace}",
		"ticket {order} closed by {user}",
		"shipment {order} weight {int}g",
		"build {int} took {duration} on {hostport}",
		"cache hit ratio 0.{int} over {int} keys",
		"phone verification sent at {epoch}",
		"call {int} of {int} to the billing api took {duration}",
		"sms batch {int} delivered {int} messages at {iso}",
		"contact sync for ticket {order} done",
		"tel lookup service {version} started on {hostport}",
		"secret scan passed for commit {sha1}",
		"token bucket refilled: {int} of {int} at {epoch}",
		"password policy v{version}: min length {int}",
		"card service latency p99 {duration} at {iso}",
		"mobile app build {order} uploaded ({int} bytes)",
		"reach-through cache warm after {duration}, key {uuid}",
		"phone-home ping {uuid} from {hostport}",
		"api key rotation job {trace} scheduled for {iso}",
		"calling webhook {uuid} attempt {int}, elapsed {duration}",
		"iban validation service returned 200 in {duration}",
		"private key fingerprint SHA256:{sha256}",
	}, []string{
		"GET /api/v1/jobs/{trace} 200 {duration}",
		"span {span} of trace {trace} ended after {duration}",
		"release {version} ({sha1}) deployed to {hostport}",
		"level=info msg=\"job completed\" job_id={trace} attempt={int} ts={epoch}",
		"order #{order} placed at {iso} total {price}",
		"invoice no. {order} due {iso}",
		"reference {order} matched payment of {price}",
		"account {account} billed {price} for {int} jobs",
		"checksum sha256={sha256}",
		"request_id={uuid} status=200 elapsed={duration}",
		"worker {worker} processed {int} jobs since {iso}",
		"token count {int}, password attempts {int}, secret rotations {int}",
		"phone validation service {version} healthy",
		"sms gateway queue length {int} at {epoch}",
		"contact list export {uuid} finished in {duration}",
		"call duration {duration}",
		"tracking number {order} out for delivery",
		"build {version} took {duration}; artifact {sha256}",
	}},
}

func main() {
	seed := flag.Uint64("seed", 14, "random seed")
	lines := flag.Int("lines", 2400, "total lines (split in two halves)")
	out := flag.String("out", "processor/piiredactionprocessor/testdata/generated", "output directory")
	flag.Parse()
	tune, holdout := Generate(*seed, *lines)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for name, ls := range map[string][]Line{"tune.jsonl": tune, "holdout.jsonl": holdout} {
		if err := os.WriteFile(filepath.Join(*out, name), Encode(ls), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("wrote %d tune and %d held-out lines to %s\n", len(tune), len(holdout), *out)
}

// Generate returns the tune and held-out halves, n/2 lines each.
func Generate(seed uint64, n int) (tune, holdout []Line) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	total := 0
	for _, g := range groups {
		total += g.weight
	}
	for half := range 2 {
		var ls []Line
		for len(ls) < n/2 {
			w := r.IntN(total)
			var g group
			for _, g = range groups {
				if w < g.weight {
					break
				}
				w -= g.weight
			}
			if half == 0 {
				ti := r.IntN(len(g.templates))
				ls = append(ls, fill(r, fmt.Sprintf("%s/%d", g.name, ti), g.templates[ti]))
			} else {
				ti := r.IntN(len(g.fresh))
				ls = append(ls, fill(r, fmt.Sprintf("%s/fresh%d", g.name, ti), g.fresh[ti]))
			}
		}
		if half == 0 {
			tune = ls
		} else {
			holdout = ls
		}
	}
	return tune, holdout
}

func fill(r *rand.Rand, id, tpl string) Line {
	var b strings.Builder
	l := Line{Template: id}
	// {name} is a value; any other brace (JSON in a template) is literal.
	for len(tpl) > 0 {
		o := strings.IndexByte(tpl, '{')
		if o < 0 {
			b.WriteString(tpl)
			break
		}
		b.WriteString(tpl[:o])
		c := o + 1
		for c < len(tpl) && (tpl[c] == '_' || (tpl[c] >= 'a' && tpl[c] <= 'z') || (tpl[c] >= '0' && tpl[c] <= '9')) {
			c++
		}
		if c == o+1 || c >= len(tpl) || tpl[c] != '}' {
			b.WriteByte('{')
			tpl = tpl[o+1:]
			continue
		}
		name := tpl[o+1 : c]
		g, ok := gens[name]
		if !ok {
			log.Fatalf("template %q: unknown value %q", tpl, name)
		}
		v := g.fn(r)
		if g.label != "" {
			l.Spans = append(l.Spans, Span{b.Len(), b.Len() + len(v), g.label})
		}
		b.WriteString(v)
		tpl = tpl[c+1:]
	}
	l.Text = b.String()
	return l
}

// Encode writes one JSON object per line.
func Encode(ls []Line) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, l := range ls {
		if l.Spans == nil {
			l.Spans = []Span{}
		}
		if err := enc.Encode(l); err != nil {
			log.Fatal(err)
		}
	}
	return buf.Bytes()
}
