// Reads Outpost's real output with clients nobody at Outpost wrote, and
// prints what they understood, one line per check, for the Go test.
const fs = require("fs");
const [what, ...args] = process.argv.slice(2);

async function main() {
  switch (what) {
    case "webhook": {
      // args: secret(s) file, headers JSON file, body file
      const { Webhook } = require("standardwebhooks");
      const secrets = fs.readFileSync(args[0], "utf8").trim().split("\n");
      const headers = JSON.parse(fs.readFileSync(args[1], "utf8"));
      const body = fs.readFileSync(args[2], "utf8");
      for (const s of secrets) {
        try {
          const payload = new Webhook(s).verify(body, headers);
          console.log("verified", s.slice(0, 10), payload.type);
        } catch (e) {
          console.log("refused", s.slice(0, 10), e.message);
        }
      }
      break;
    }
    case "feed": {
      const Parser = require("rss-parser");
      for (const f of args) {
        const feed = await new Parser().parseString(fs.readFileSync(f, "utf8"));
        const dated = feed.items.filter((i) => i.isoDate).length;
        console.log("feed", f.split("/").pop(), "items=" + feed.items.length, "dated=" + dated,
          "guids=" + new Set(feed.items.map((i) => i.guid || i.id)).size);
      }
      break;
    }
    case "ical": {
      const ical = require("node-ical");
      const cal = ical.sync.parseFile(args[0]);
      for (const e of Object.values(cal)) {
        if (e.type === "VEVENT") console.log("event", e.uid, e.status, e.sequence, e.url && (e.url.val || e.url), e.summary);
      }
      break;
    }
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
