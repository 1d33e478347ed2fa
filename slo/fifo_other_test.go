//go:build !unix

package slo

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
