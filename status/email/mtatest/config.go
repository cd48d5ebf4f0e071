package mtatest

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// mainCF is the instance's main.cf. Every path points into the
// instance's own directory, so it shares nothing with a system Postfix
// but the binaries. Any recipient domain is a virtual mailbox domain
// delivered into one catch-all Maildir; nothing is relayed and no DNS is
// asked (the tests' network is loopback only).
const mainCF = `compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.outpost.test
mydomain = outpost.test
myorigin = $myhostname
mydestination =
relay_domains =
relayhost =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
default_transport = error:mtatest relays nothing
local_transport = error:mtatest has no local domain
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = static:all
virtual_mailbox_base = %[1]s/maildir
virtual_mailbox_maps = static:` + maildirName + `/
virtual_uid_maps = static:%[2]d
virtual_gid_maps = static:%[3]d
virtual_minimum_uid = %[2]d
maillog_file = /dev/stdout
`

// masterCF runs only the services a message needs from smtpd to the
// Maildir, none chrooted (the chroot would need copies of /etc files).
const masterCF = `127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
virtual   unix  - n n -    - virtual
postlog   unix-dgram n - n - 1 postlogd
`

// maildirName is the catch-all Maildir under virtual_mailbox_base.
const maildirName = "all"

// writeConfig lays out an instance in dir: etc/ with main.cf and
// master.cf for port, the queue, and maildir/ owned by the postfix user,
// as whom virtual(8) delivers.
func writeConfig(dir string, port int) error {
	id, err := lookupIDs()
	if err != nil {
		return err
	}
	if err := makeQueue(filepath.Join(dir, "spool"), filepath.Join(dir, "data"), id); err != nil {
		return err
	}
	etc, base := filepath.Join(dir, "etc"), filepath.Join(dir, "maildir")
	for _, d := range []string{etc, base} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("instance directory: %w", err)
		}
	}
	if err := os.Chown(base, id.uid, id.gid); err != nil {
		return fmt.Errorf("maildir owner: %w", err)
	}
	files := map[string]string{
		"main.cf":   fmt.Sprintf(mainCF, dir, id.uid, id.gid),
		"master.cf": fmt.Sprintf(masterCF, port),
	}
	for name, text := range files {
		path := filepath.Join(etc, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		// Postfix waits, 300 ms at a time, until a file it loads is older
		// than the current second (it might still be being written): a
		// past mtime saves that wait in every daemon that starts.
		past := time.Now().Add(-time.Minute)
		if err := os.Chtimes(path, past, past); err != nil {
			return fmt.Errorf("date %s: %w", name, err)
		}
	}
	return nil
}
