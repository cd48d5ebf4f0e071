package mtatest

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// postfixFiles is the postfix package's own list of the directories an
// instance needs, with owner, group and mode (Postfix's meta_directory).
const postfixFiles = "/etc/postfix/postfix-files"

// ids are the numeric owners the package's layout names.
type ids struct {
	uid, gid int // the postfix user (mail_owner) and its group
	postdrop int // setgid_group
}

func lookupIDs() (ids, error) {
	u, err := user.Lookup("postfix")
	if err != nil {
		return ids{}, fmt.Errorf("postfix user: %w", err)
	}
	g, err := user.LookupGroup("postdrop")
	if err != nil {
		return ids{}, fmt.Errorf("postdrop group: %w", err)
	}
	var id ids
	for _, f := range []struct {
		dst *int
		s   string
	}{{&id.uid, u.Uid}, {&id.gid, u.Gid}, {&id.postdrop, g.Gid}} {
		if *f.dst, err = strconv.Atoi(f.s); err != nil {
			return ids{}, fmt.Errorf("numeric id %q: %w", f.s, err)
		}
	}
	return id, nil
}

// makeQueue creates the queue and data directories as postfix-files
// lists them. It does what `postfix check` (post-install create-missing)
// would, in milliseconds rather than the seconds that script takes.
func makeQueue(queue, data string, id ids) error {
	f, err := os.Open(postfixFiles)
	if err != nil {
		return fmt.Errorf("queue layout: %w", err)
	}
	defer f.Close()
	roots := strings.NewReplacer("$queue_directory", queue, "$data_directory", data)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rec := strings.Split(sc.Text(), ":")
		if len(rec) < 5 || rec[1] != "d" ||
			!(strings.HasPrefix(rec[0], "$queue_directory") || strings.HasPrefix(rec[0], "$data_directory")) {
			continue
		}
		if err := makeDir(roots.Replace(rec[0]), rec[2], rec[3], rec[4], id); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("queue layout: %w", err)
	}
	return nil
}

// makeDir makes one directory of the layout. Owner and group are
// "root", "$mail_owner", "$setgid_group", or "-" for root's group.
func makeDir(path, owner, group, mode string, id ids) error {
	perm, err := strconv.ParseUint(mode, 8, 32)
	if err != nil {
		return fmt.Errorf("queue layout: mode of %s: %w", path, err)
	}
	names := map[string]int{"root": 0, "-": 0, "$mail_owner": id.uid, "$setgid_group": id.postdrop}
	uid, ok1 := names[owner]
	gid, ok2 := names[group]
	if !ok1 || !ok2 {
		return fmt.Errorf("queue layout: unknown owner %q:%q of %s", owner, group, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("queue layout: %w", err)
	}
	if err := os.Mkdir(path, os.FileMode(perm)); err != nil && !os.IsExist(err) {
		return fmt.Errorf("queue layout: %w", err)
	}
	// Mkdir's mode passes through the umask; Postfix checks the exact one.
	if err := os.Chmod(path, os.FileMode(perm)); err != nil {
		return fmt.Errorf("queue layout: %w", err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("queue layout: %w", err)
	}
	return nil
}
