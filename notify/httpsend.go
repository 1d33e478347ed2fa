package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// PostJSON posts body as JSON with the given headers and classifies the
// answer with HTTPError and TransportError. Receivers over plain net/http
// share it.
func PostJSON(ctx context.Context, client *http.Client, url string, body []byte, header http.Header, now time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Reason: ReasonInvalid, Permanent: true, Err: err}
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return TransportError(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return HTTPError(resp.StatusCode, resp.Header, string(b), now)
}
