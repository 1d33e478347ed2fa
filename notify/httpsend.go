package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// PostJSON posts body as JSON with the given headers and classifies the
// answer with HTTPError and TransportError. Receivers over plain net/http
// share it. Its errors show the URL only as MaskURL gives it (or its host).
func PostJSON(ctx context.Context, client *http.Client, rawURL string, body []byte, header http.Header, now time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue repeats the whole URL, which may be a secret
		}
		return &SendError{Reason: ReasonInvalid, Permanent: true, Err: fmt.Errorf("url %s: %w", MaskURL(rawURL), err)}
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
