package filetrail

import (
	"errors"
	"fmt"
)

// Code is an application error code. The values are VirusTotal's API v3
// error codes; the HTTP layer maps them to statuses in one place.
type Code string

// Error codes (API.md §5).
const (
	CodeBadRequest             Code = "BadRequestError"
	CodeInvalidArgument        Code = "InvalidArgumentError"
	CodeAuthenticationRequired Code = "AuthenticationRequiredError"
	CodeWrongCredentials       Code = "WrongCredentialsError"
	CodeForbidden              Code = "ForbiddenError"
	CodeNotFound               Code = "NotFoundError"
	CodeAlreadyExists          Code = "AlreadyExistsError"
	CodeQuotaExceeded          Code = "QuotaExceededError"
	CodeTransient              Code = "TransientError"
	CodeDeadlineExceeded       Code = "DeadlineExceededError"
	CodeInternal               Code = "InternalError"
)

// Error is an error with a code and a message meant for the API client.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal for any other non-nil error, or "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-facing message of err: the message of its
// *Error, or a generic text that leaks nothing for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
