package web_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's headless chromium. Without it they are
// skipped locally (loudly) and fail in CI (CI=true). FILETRAIL_CHROMIUM
// names another binary; FILETRAIL_SCREENSHOTS the folder the screenshots
// go to (default: a new temporary folder, logged).
const (
	chromiumEnv    = "FILETRAIL_CHROMIUM"
	screenshotsEnv = "FILETRAIL_SCREENSHOTS"
)

// One browser for the whole suite; each test opens its own tabs.
var suite struct {
	once    sync.Once
	ctx     context.Context // the browser
	cancel  func()
	err     error
	userDir string
	shots   string // screenshot folder
}

func TestMain(m *testing.M) {
	code := m.Run()
	if suite.cancel != nil {
		suite.cancel()
	}
	if suite.userDir != "" {
		os.RemoveAll(suite.userDir)
	}
	os.Exit(code)
}

func chromiumPath() string {
	if p := os.Getenv(chromiumEnv); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser() error {
	exe := chromiumPath()
	if exe == "" {
		return errNoChromium
	}
	dir, err := os.MkdirTemp("", "filetrail-chromium-")
	if err != nil {
		return err
	}
	suite.userDir = dir
	suite.shots = os.Getenv(screenshotsEnv)
	if suite.shots == "" {
		if suite.shots, err = os.MkdirTemp("", "filetrail-screenshots-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(suite.shots, 0o755); err != nil {
		return err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1366, 860),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancelBrowser()
		cancelAlloc()
		return fmt.Errorf("starting %s: %w", exe, err)
	}
	suite.ctx = ctx
	suite.cancel = func() { cancelBrowser(); cancelAlloc() }
	return nil
}

var errNoChromium = errors.New("no chromium binary found (install Debian's chromium package, or set " + chromiumEnv + ")")

// tab is one browser tab of a test.
type tab struct {
	t   *testing.T
	ctx context.Context
	env *env

	mu         sync.Mutex
	exceptions []string
}

// newTab opens a tab on env's server (nothing loaded yet). It skips the
// test when no browser is available, except in CI where it fails.
func newTab(t *testing.T, e *env) *tab {
	t.Helper()
	suite.once.Do(func() {
		suite.err = startBrowser()
		switch {
		case suite.err == nil:
			fmt.Fprintf(os.Stderr, "web: browser tests: screenshots in %s\n", suite.shots)
		case errors.Is(suite.err, errNoChromium) && os.Getenv("CI") != "true":
			fmt.Fprintf(os.Stderr, "web: SKIPPING THE BROWSER TESTS: %v\n", suite.err)
		}
	})
	if suite.err != nil {
		if errors.Is(suite.err, errNoChromium) && os.Getenv("CI") != "true" {
			t.Skipf("SKIPPING THE BROWSER TESTS: %v", suite.err)
		}
		t.Fatalf("browser tests: %v", suite.err)
	}
	ctx, cancel := chromedp.NewContext(suite.ctx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	tb := &tab{t: t, ctx: ctx, env: e}
	t.Cleanup(func() { cancelTimeout(); cancel() })
	err := chromedp.Listen(ctx, func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			tb.mu.Lock()
			d := ex.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			tb.exceptions = append(tb.exceptions, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
			tb.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// Record Content-Security-Policy violations (devtools scripts are not
	// subject to the page's CSP).
	tb.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`})
		return err
	}))
	t.Cleanup(tb.checkClean)
	return tb
}

func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// checkClean fails the test on uncaught script errors or CSP violations.
func (tb *tab) checkClean() {
	tb.mu.Lock()
	ex := tb.exceptions
	tb.mu.Unlock()
	for _, e := range ex {
		tb.t.Errorf("uncaught exception in the page: %s", e)
	}
	if tb.ctx.Err() != nil {
		return
	}
	if csp, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`window.__csp || []`)); err == nil {
		for _, v := range csp {
			tb.t.Errorf("Content-Security-Policy violation: %s", v)
		}
	}
}

// open loads a path of the server.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(tb.env.srv.URL + path))
}

// wait polls a JavaScript expression until it is truthy.
func (tb *tab) wait(expr string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		text, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.getElementById('main') ? document.getElementById('main').innerText.slice(0, 600) : ''`))
		tb.t.Fatalf("waiting for %s: %v\npage shows: %s", expr, err, text)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// text is the text of the first element sel matches, white space
// collapsed; "" when there is none.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s := eval[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel))
	return strings.Join(strings.Fields(s), " ")
}

// signIn signs in from the sign-in form of /gui/.
func (tb *tab) signIn(key string) {
	tb.t.Helper()
	tb.open("/gui/")
	tb.run(chromedp.WaitVisible(chromedp.CSS(`#apikey`)),
		chromedp.SendKeys(chromedp.CSS(`#apikey`), key),
		chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
}

// search types text into the header's search box and submits it.
func (tb *tab) search(text string) {
	tb.t.Helper()
	tb.run(chromedpEval(`document.getElementById('q').value = ''`),
		chromedp.SendKeys(chromedp.CSS(`#q`), text),
		chromedp.Click(chromedp.CSS(`#search-form button`)))
}

// waitState waits for the error state of that kind.
func (tb *tab) waitState(kind string) string {
	tb.t.Helper()
	sel := fmt.Sprintf(`[data-state=%q]`, kind)
	tb.wait(fmt.Sprintf(`document.querySelector(%q)`, sel))
	return tb.text(sel)
}

type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	laptop = viewport{"laptop", 1366, 860, false}
	phone  = viewport{"phone", 390, 844, true}
)

// shoot writes full-page screenshots of the current page, for each
// viewport in light and dark themes (both themes when dark is true,
// else light only), and restores the laptop light view.
func (tb *tab) shoot(name string, dark bool, vps ...viewport) {
	tb.t.Helper()
	themes := []string{"light"}
	if dark {
		themes = append(themes, "dark")
	}
	for _, vp := range vps {
		for _, theme := range themes {
			tb.run(setView(vp, theme))
			if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)); err != nil {
				tb.t.Fatal(err)
			}
			// Nothing sticks out sideways: the page fits the screen.
			if w := eval[int](tb, `document.documentElement.scrollWidth`); w > int(vp.width) {
				tb.t.Errorf("%s on a %s: the page is %d px wide, the screen %d", name, vp.name, w, vp.width)
			}
			// Laptop: the whole page. Phone: its first two screens (a
			// whole list of cards would be a strip too long to look at).
			shot := chromedp.FullScreenshot(100)
			if vp.mobile {
				tb.run(setView(viewport{vp.name, vp.width, 2 * vp.height, true}, theme))
				shot = chromedp.CaptureScreenshot()
			}
			png, err := chromedp.Run(tb.ctx, shot)
			if err != nil {
				tb.t.Fatal(err)
			}
			file := filepath.Join(suite.shots, fmt.Sprintf("%s-%s-%s.png", name, vp.name, theme))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				tb.t.Fatal(err)
			}
		}
	}
	tb.run(setView(laptop, "light"))
	tb.t.Logf("screenshots of %s in %s", name, suite.shots)
}

func setView(vp viewport, theme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: vp.width, Height: vp.height, DeviceScaleFactor: 1, Mobile: vp.mobile,
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: theme}},
		})
		return err
	})
}

// downloads makes the tab save downloads into a new folder and returns a
// function that waits for the next completed download and returns its
// suggested file name and content.
func (tb *tab) downloads() func() (string, []byte) {
	tb.t.Helper()
	dir := tb.t.TempDir()
	type done struct{ guid, name string }
	names := map[string]string{}
	var mu sync.Mutex
	ch := make(chan done, 8)
	err := chromedp.ListenBrowser(tb.ctx, func(ev any) {
		switch e := ev.(type) {
		case *browser.EventDownloadWillBegin:
			mu.Lock()
			names[e.GUID] = e.SuggestedFilename
			mu.Unlock()
		case *browser.EventDownloadProgress:
			if e.State == browser.DownloadProgressStateCompleted {
				mu.Lock()
				ch <- done{e.GUID, names[e.GUID]}
				mu.Unlock()
			}
		}
	})
	if err != nil {
		tb.t.Fatal(err)
	}
	events := true
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events,
	}); err != nil {
		tb.t.Fatal(err)
	}
	return func() (string, []byte) {
		tb.t.Helper()
		select {
		case d := <-ch:
			b, err := os.ReadFile(filepath.Join(dir, d.guid))
			if err != nil {
				tb.t.Fatal(err)
			}
			return d.name, b
		case <-time.After(30 * time.Second):
			tb.t.Fatal("no download completed")
			return "", nil
		}
	}
}

func chromedpClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel))
}

// chromedpBack goes back in the tab's history (a same-document
// navigation in the application, so no page load to wait for).
func chromedpBack() chromedp.Action[chromedp.Void] { return chromedpEval(`history.back()`) }

func chromedpScrollTop() chromedp.Action[chromedp.Void] {
	return chromedpEval(`window.scrollTo(0, 0)`)
}

// chromedpEval evaluates a JavaScript statement, ignoring its value.
func chromedpEval(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("("+js+", true)")(ctx, tg)
		return err
	})
}

// chromedpRun evaluates an expression whose value is a promise.
func chromedpRun[T any](tb *tab, expr string) (T, error) {
	return chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}
