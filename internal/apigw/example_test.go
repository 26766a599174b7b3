package apigw_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/churnops/churnops/internal/apigw"
)

// A Lambda main serves the same handler as the local server:
//
//	lambda.Start(apigw.Handler(svc.Handler()))
//
// Here the adapter is invoked directly with an HTTP API (format 2.0) event.
func ExampleHandler() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q,"path":%q}`, r.Method, r.URL.Path)
	})
	event := `{"version":"2.0","rawPath":"/prod/health","requestContext":{"stage":"prod","http":{"method":"GET"}}}`
	out, err := apigw.Handler(h).Invoke(context.Background(), []byte(event))
	if err != nil {
		fmt.Println(err)
		return
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	_ = json.Unmarshal(out, &resp)
	fmt.Println(resp.StatusCode, resp.Body)
	// Output: 200 {"method":"GET","path":"/health"}
}
