package notify

import "regexp"

// address matches what an SMTP server (or a URL's user part) puts before
// and after an @: the dot-atom characters subscribers' addresses are made
// of (the form takes no quoted local parts), then a host name.
var address = regexp.MustCompile("[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")

// Redacted stands in for an address in logged text.
const Redacted = "[address]"

// RedactAddresses replaces every email address in s with Redacted. Text
// that goes to logs at info or above passes through it: mail servers
// repeat the recipient in their answers ("550 5.1.1 <bob@example.org>:
// Recipient address rejected"), and an address is its subscriber's
// business, not the log's. The delivery record an operator reads keeps
// the server's reply as it came.
func RedactAddresses(s string) string { return address.ReplaceAllLiteralString(s, Redacted) }
