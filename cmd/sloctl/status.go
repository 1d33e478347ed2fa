package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/server"
)

// StatusOptions are the inputs of `sloctl status`.
type StatusOptions struct {
	IO      IO
	Slod    string
	Format  string
	Timeout time.Duration
	// Client defaults to an http.Client with Timeout.
	Client *http.Client
}

var statusFormats = []string{"text", "json"}

// NewCmdStatus builds `sloctl status`; runF replaces the run function in
// flag tests (nil shows the status).
func NewCmdStatus(io IO, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running slod's incidents, ranked by threat, and its SLOs",
		Long: `Status asks a running slod (GET /api/v1/incidents and /api/v1/slos) for its
open incidents, ranked by threat to the error budget (soonest exhaustion
first, then severity, then burn; incidents whose exhaustion is unknown, such
as an SLI without data, after all the others), and its SLO instances with
the budget left and the burn over each policy window. A figure that cannot
be measured shows as "unknown", never as 0.`,
		Example: `  sloctl status
  sloctl status --slod http://slod.monitoring:9797
  sloctl status --format json | jq '.incidents[0]'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if !contains(statusFormats, opts.Format) {
				return usageErrorf("--format %q: must be one of %s", opts.Format, strings.Join(statusFormats, ", "))
			}
			u, err := url.Parse(opts.Slod)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageErrorf("--slod %q: want an http(s) URL such as http://127.0.0.1:9797", opts.Slod)
			}
			if runF != nil {
				return runF(opts)
			}
			return runStatus(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Slod, "slod", "http://127.0.0.1:9797", "base URL of the slod daemon")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 10*time.Second, "timeout of each request")
	return cmd
}

func runStatus(opts *StatusOptions) error {
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: opts.Timeout}
	}
	base := strings.TrimSuffix(opts.Slod, "/")
	var incs server.IncidentsResponse
	if err := getJSON(client, base+"/api/v1/incidents", &incs); err != nil {
		return &exitError{code: exitFail, err: err}
	}
	slos, err := getSLOs(client, base)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Incidents []server.IncidentJSON `json:"incidents"`
			SLOs      []server.SLOJSON      `json:"slos"`
			Ready     bool                  `json:"ready"`
			Source    server.SourceJSON     `json:"source"`
		}{incs.Incidents, slos.SLOs, slos.Ready, slos.Source})
	}
	printStatus(opts.IO.Out, incs, slos)
	return nil
}

// getSLOs reads every page of /api/v1/slos, following next_cursor, into
// one response: an SLO whose instances span pages is merged.
func getSLOs(client *http.Client, base string) (server.SLOsResponse, error) {
	var all server.SLOsResponse
	q := url.Values{"limit": {strconv.Itoa(server.MaxLimit)}}
	for first := true; ; first = false {
		var page server.SLOsResponse
		if err := getJSON(client, base+"/api/v1/slos?"+q.Encode(), &page); err != nil {
			return all, err
		}
		if first {
			all.SLOsHead = page.SLOsHead
		}
		for _, s := range page.SLOs {
			if n := len(all.SLOs); n > 0 && all.SLOs[n-1].ID == s.ID {
				all.SLOs[n-1].Instances = append(all.SLOs[n-1].Instances, s.Instances...)
				continue
			}
			all.SLOs = append(all.SLOs, s)
		}
		if page.NextCursor == "" {
			all.NextCursor = ""
			return all, nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

func getJSON(client *http.Client, u string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), client.Timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("slod not reachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

func printStatus(w io.Writer, incs server.IncidentsResponse, slos server.SLOsResponse) {
	state := "ready"
	if !slos.Ready {
		state = "NOT READY"
	}
	src := "up"
	if !slos.Source.Up {
		src = "DOWN: " + slos.Source.LastError
	}
	fmt.Fprintf(w, "slod at %s: %s, source %s %s", slos.At.UTC().Format(time.RFC3339), state, slos.Source.Name, src)
	if slos.Shard != "" {
		fmt.Fprintf(w, ", shard %s", slos.Shard)
	}
	fmt.Fprintln(w)
	for _, p := range slos.Problems {
		fmt.Fprintf(w, "problem: %s: %s\n", p.Where, p.Message)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(incs.Incidents) == 0 {
		fmt.Fprintln(w, "No open incidents.")
	} else {
		fmt.Fprintln(tw, "#\tSLO\tINSTANCE\tSEVERITY\tBURN\tBUDGET LEFT\tSPENT SINCE START\tGONE IN\tSTARTED\tBURN BEGAN")
		row := func(rank string, in server.IncidentJSON) {
			sev := in.Severity
			if in.Class == "nodata" {
				sev = "no data"
			}
			burn := in.Burn.Text(func(x float64) string { return statusNum(x) + "×" })
			if in.Recovering {
				sev += " (recovering)"
			}
			onset := "unknown"
			if in.Onset != nil {
				onset = in.Onset.UTC().Format("2006-01-02 15:04:05")
				if in.BudgetSpentSinceOnset != nil {
					onset += " (" + statusPct(*in.BudgetSpentSinceOnset) + " spent since)"
				}
			}
			if in.Class == "nodata" {
				onset = "–"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rank, in.SLO, statusLabels(in.Labels), sev,
				burn, statusPct(in.BudgetRemaining), statusPct(in.BudgetSpent), in.TimeToExhaustion,
				in.Start.UTC().Format("2006-01-02 15:04"), onset)
		}
		for _, in := range incs.Incidents {
			row(strconv.Itoa(in.Rank), in)
			// Symptoms under their root (docs/incidents.md): what the
			// root's page lists as affected.
			for _, a := range in.Affected {
				a.SLO = "└ " + a.SLO + " (caused by " + in.SLO + statusPaged(a) + ")"
				row("", a)
			}
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "STATE\tSLO\tINSTANCE\tOBJECTIVE\tWINDOW\tBUDGET LEFT\tBURN (short/long per row)")
	for _, s := range slos.SLOs {
		for _, in := range s.Instances {
			var burns []string
			for _, r := range in.Rows {
				mark := ""
				if r.Fires {
					mark = "!"
				}
				burns = append(burns, fmt.Sprintf("%s/%s %s/%s%s", r.Short, r.Long, r.ShortBurn.Text(statusNum), r.LongBurn.Text(statusNum), mark))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v%%\t%s\t%s\t%s\n", in.State, s.ID, statusLabels(in.Labels), s.Objective, s.Window,
				statusPct(in.BudgetRemaining), strings.Join(burns, "  "))
		}
	}
	tw.Flush()
}

// statusPaged says whether a symptom paged on its own.
func statusPaged(in server.IncidentJSON) string {
	if in.Paged {
		return ", paged"
	}
	return ", not paged"
}

func statusLabels(l map[string]string) string {
	if len(l) == 0 {
		return "-"
	}
	return server.FormatLabels(l)
}

func statusNum(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func statusPct(f burnrate.Figure) string {
	return f.Text(func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) })
}
