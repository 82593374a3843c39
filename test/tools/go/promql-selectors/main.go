// promql-selectors parses PromQL expressions with Prometheus's own parser and prints the series selectors of
// each: the metric name and label matchers of every vector selector in it. The tests use it to check that
// the chart's alert rules and dashboard queries name only series the orchestrator exports.
//
// Input (stdin): a JSON array of expressions. Output (stdout): a JSON array, one entry per expression, in
// order: {"selectors": [[{"label", "op", "value"}, ...], ...]} or {"error": "..."}.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/prometheus/prometheus/promql/parser"
)

type matcher struct {
	Label string `json:"label"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

type result struct {
	Selectors [][]matcher `json:"selectors,omitempty"`
	Error     string      `json:"error,omitempty"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintf(os.Stderr, "promql-selectors: stdin is not a JSON array of strings: %v\n", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	results := make([]result, 0, len(exprs))
	for _, input := range exprs {
		expr, err := p.ParseExpr(input)
		if err != nil {
			results = append(results, result{Error: err.Error()})
			continue
		}
		var r result
		for _, selector := range parser.ExtractSelectors(expr) {
			ms := make([]matcher, 0, len(selector))
			for _, m := range selector {
				ms = append(ms, matcher{Label: m.Name, Op: m.Type.String(), Value: m.Value})
			}
			r.Selectors = append(r.Selectors, ms)
		}
		results = append(results, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintf(os.Stderr, "promql-selectors: %v\n", err)
		os.Exit(1)
	}
}
