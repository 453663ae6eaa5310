package conventions

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
)

func conventionsDoc(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "docs", "CONVENTIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// backticked returns the set of `quoted` tokens of doc that match re.
func backticked(doc string, re *regexp.Regexp) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(doc, -1) {
		if re.MatchString(m[1]) {
			out[m[1]] = true
		}
	}
	return out
}

func compareSets(t *testing.T, what string, doc map[string]bool, pkg []string) {
	t.Helper()
	inPkg := map[string]bool{}
	for _, n := range pkg {
		if inPkg[n] {
			t.Errorf("%s %q is listed twice in the package", what, n)
		}
		inPkg[n] = true
	}
	var missing, extra []string
	for n := range doc {
		if !inPkg[n] {
			missing = append(missing, n)
		}
	}
	for n := range inPkg {
		if !doc[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("docs/CONVENTIONS.md names %s the package lacks: %s", what, strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("the package has %s docs/CONVENTIONS.md does not name: %s", what, strings.Join(extra, ", "))
	}
}

// The contract's attribute names are the dotted names of the namespaces the contract owns or
// borrows from semantic conventions; file names such as `collector.yaml` are not attributes.
var attrName = regexp.MustCompile(`^(job|worker|queue|event|service|messaging)\.[a-z_]+(\.[a-z_]+)*$`)

func TestAttributesMatchConventionsDoc(t *testing.T) {
	compareSets(t, "attributes", backticked(conventionsDoc(t), attrName), Attributes)
}

func TestEventsMatchConventionsDoc(t *testing.T) {
	compareSets(t, "lifecycle events", backticked(conventionsDoc(t), regexp.MustCompile(`^job_[a-z_]+$`)), Events)
}

func TestStatusesMatchConventionsDoc(t *testing.T) {
	doc := conventionsDoc(t)
	// The status values are the ones the `job.status` row of the job-span table lists.
	row := regexp.MustCompile("(?m)^\\| `job\\.status` \\| (.*) \\|$").FindStringSubmatch(doc)
	if row == nil {
		t.Fatal("docs/CONVENTIONS.md has no `job.status` row")
	}
	compareSets(t, "job statuses", backticked(row[1], regexp.MustCompile(`^[a-z_]+$`)), Statuses)
}

func TestStatusOfEvent(t *testing.T) {
	for _, ev := range Events {
		st, ends := StatusOfEvent(ev)
		switch ev {
		case EventJobEnqueued, EventJobStarted:
			if ends || st != "" {
				t.Errorf("%s: got (%q, %v), want no status", ev, st, ends)
			}
		default:
			if !ends || "job_"+st != ev {
				t.Errorf("%s: got (%q, %v)", ev, st, ends)
			}
		}
	}
}
