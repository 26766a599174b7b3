package serve

import (
	"errors"
	"net/http"
)

// Error codes sent in {"error":{"code":…}}. They are part of the API
// contract: clients may switch on them, so they never change meaning.
const (
	CodeInvalidRequest     = "invalid_request"
	CodeUnauthorized       = "unauthorized"        // the local server's bearer token is missing or wrong
	CodeForbidden          = "forbidden"           // an include on a route that does not serve it
	CodeReasonsUnavailable = "reasons_unavailable" // the Production model cannot explain its predictions
	CodeUserNotFound       = "user_not_found"
	CodeNotFound           = "not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeBodyTooLarge       = "body_too_large"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodeNoProductionModel  = "no_production_model"
	CodeNotReady           = "not_ready"
	CodeInternal           = "internal"
)

// internalMessage is the only message a 500 ever carries.
const internalMessage = "internal error; see the server log for this request id"

// Error is an API error: a stable code, a message that is safe to send, and
// the internal cause, which is logged and never sent.
type Error struct {
	Code    string // one of the Code constants
	Message string // for clients; ignored (replaced by a generic one) for CodeInternal
	Feature string // the offending feature of an inline request, if any
	Err     error  // internal cause, logged only
}

// Error implements error. It includes the internal cause: it is for logs.
func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of e's code. It is the one place in the service
// where error codes map to statuses.
func (e *Error) Status() int {
	switch e.Code {
	case CodeInvalidRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeReasonsUnavailable:
		return http.StatusConflict
	case CodeUserNotFound, CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CodeNoProductionModel, CodeNotReady:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// asError turns any error into an *Error: API errors pass through, anything
// else becomes CodeInternal with err as its (logged) cause.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Err: err}
}

func invalid(msg string) *Error { return &Error{Code: CodeInvalidRequest, Message: msg} }

func internal(err error) *Error { return &Error{Code: CodeInternal, Err: err} }
