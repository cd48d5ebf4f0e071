package notify

import "testing"

func TestRedactAddresses(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a server's refusal", `550 "5.1.1 <bob@example.org>: Recipient address rejected", affected recipient(s): <bob@example.org>`,
			`550 "5.1.1 <[address]>: Recipient address rejected", affected recipient(s): <[address]>`},
		{"tags, case and sentence ends", "no mailbox for Ann.Lee+status@Mail.Example.CO.uk.", "no mailbox for [address]."},
		{"two in a list", "recipients: a@b.example, c_d@e-f.example", "recipients: [address], [address]"},
		{"a URL's user part", "https://user:secret@hooks.example.com/x", "https://user:[address]/x"},
		{"nothing to hide", "451 4.7.1 try again later; id 1@", "451 4.7.1 try again later; id 1@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactAddresses(tc.in); got != tc.want {
				t.Errorf("RedactAddresses(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}
