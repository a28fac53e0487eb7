package statuspage_test

import (
	"os"
	"os/exec"
	"testing"
)

// chromium returns the path of Debian's chromium, skipping the test when it
// is absent, unless CAIRN_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CAIRN_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium not found and CAIRN_REQUIRE_CHROMIUM=1: apt-get install chromium")
	}
	t.Skip("chromium not found (apt-get install chromium); CAIRN_REQUIRE_CHROMIUM=1 makes this a failure")
	return ""
}
