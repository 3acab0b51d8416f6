package web_test

import (
	"net/http/httptest"
	"os"
	"testing"
)

func TestZZDemo(t *testing.T) {
	u := os.Getenv("FT_DEMO_URL")
	if u == "" {
		t.Skip()
	}
	e := &env{srv: &httptest.Server{URL: u}}
	tb := newTab(t, e)
	tb.signIn(os.Getenv("FT_DEMO_KEY"))
	tb.wait(`document.querySelector('.home')`)
	tb.search("108[.]59[.]9[.]32")
	tb.wait(`document.querySelector('#files-rows tr')`)
	tb.shoot("demo-ip", true, laptop, phone)
	tb.run(chromedpClick(`#files-rows a`))
	tb.wait(`document.querySelector('#file-hashes') && document.querySelector('#itw-rows tr')`)
	tb.shoot("demo-file", false, laptop)
	tb.search("74.207.254.18")
	tb.wait(`document.querySelector('#files-rows tr')`)
	tb.run(chromedpClick(`#files-rows a`))
	tb.wait(`document.querySelector('#file-hashes') && document.querySelector('#itw-rows tr')`)
	tb.shoot("demo-file2", false, laptop)
}
