//! `brokerlab export`: the four formats follow their targets' rules (SVG is well-formed XML,
//! Mermaid keeps to the grammar it relies on, the asciicast replays to the TUI's frames, the
//! HTML page stands alone), the same inputs give the same bytes, and bad input exits 2.

use brokerlab::export::sequence::{self, Item};
use brokerlab::export::{self, Format, Window, mermaid, svg};
use brokerlab::scenario;
use brokerlab::session::Session;
use brokerlab::sim::SimTime;
use brokerlab::tui::App;

use crate::util::{TempDir, brokerlab, stderr, stdout};

fn load(name: &str) -> (String, scenario::Scenario, u64) {
    let (label, sc) = scenario::load(name).expect("bundled scenario");
    let seed = sc.scenario.seed;
    (label, sc, seed)
}

fn window(from_ms: u64, to_ms: u64) -> Window {
    Window::new(
        Some(SimTime::from_ms(from_ms)),
        Some(SimTime::from_ms(to_ms)),
    )
    .unwrap()
}

fn export_text(name: &str, format: Format, w: Window) -> String {
    let (label, sc, seed) = load(name);
    String::from_utf8(export::export(&label, &sc, seed, format, w).expect("export")).unwrap()
}

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

/// The leader of orders/0 crashes at 1.8 s: resets, drops, the fault and the note.
const CRASH: (u64, u64) = (1_790, 1_910);

// ----- a tiny XML well-formedness check ---------------------------------------------------

/// Checks that `doc` is well-formed XML: one root, tags nested and closed, attributes quoted
/// and unique, every `&` an entity XML knows. Returns the elements' names in document order.
fn well_formed(doc: &str) -> Result<Vec<String>, String> {
    let mut rest = doc;
    if let Some(r) = rest.strip_prefix("<?xml") {
        rest = &r[r.find("?>").ok_or("unclosed XML declaration")? + 2..];
    }
    let mut open: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut roots = 0;
    let check_text = |t: &str| -> Result<(), String> {
        if t.contains('<') || t.contains('>') {
            return Err(format!("markup character in text: {t:?}"));
        }
        let mut parts = t.split('&');
        parts.next();
        for p in parts {
            let end = p.find(';').ok_or_else(|| format!("bare & in {t:?}"))?;
            let e = &p[..end];
            let ok = matches!(e, "amp" | "lt" | "gt" | "quot" | "apos")
                || e.strip_prefix('#')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(format!("unknown entity &{e};"));
            }
        }
        Ok(())
    };
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if open.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        check_text(text)?;
        rest = &rest[lt + 1..];
        let gt = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(o) if o == name.trim() => {}
                o => return Err(format!("</{name}> closes {o:?}")),
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
        {
            return Err(format!("bad element name {name:?}"));
        }
        let mut seen = Vec::new();
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                break;
            }
            let eq = attrs
                .find('=')
                .ok_or_else(|| format!("attribute without value in <{name}>"))?;
            let key = attrs[..eq].trim();
            if seen.contains(&key) {
                return Err(format!("attribute {key} twice in <{name}>"));
            }
            seen.push(key);
            let v = &attrs[eq + 1..];
            let q = v.chars().next().filter(|c| *c == '"' || *c == '\'');
            let q = q.ok_or_else(|| format!("unquoted {key} in <{name}>"))?;
            let close = v[1..]
                .find(q)
                .ok_or_else(|| format!("unclosed {key} in <{name}>"))?;
            check_text(&v[1..1 + close])?;
            attrs = &v[close + 2..];
        }
        if open.is_empty() {
            roots += 1;
        }
        names.push(name.to_string());
        if !self_closing {
            open.push(name.to_string());
        }
    }
    if !rest.trim().is_empty() {
        return Err("text after the root".into());
    }
    match (open.is_empty(), roots) {
        (true, 1) => Ok(names),
        (false, _) => Err(format!("unclosed elements {open:?}")),
        _ => Err(format!("{roots} root elements")),
    }
}

#[test]
fn the_xml_check_catches_what_it_must() {
    assert!(well_formed("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n").is_ok());
    for bad in [
        "<a><b></a>",
        "<a>",
        "<a x=1/>",
        "<a>&nbsp;</a>",
        "<a>x & y</a>",
        "<a/><b/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a>1 < 2</a>",
    ] {
        assert!(well_formed(bad).is_err(), "{bad} passed");
    }
}

// ----- SVG ----------------------------------------------------------------------------------

#[test]
fn svg_of_a_crash_is_pinned() {
    let (a, b) = CRASH;
    snap!(
        "export__svg_acks1_crash",
        export_text("acks1-leader-failover", Format::Svg, window(a, b))
    );
}

/// The numbers of an attribute list: `x1="3" y1="4"` → value of `key`.
fn attr(tag: &str, key: &str) -> Option<i64> {
    let at = tag.find(&format!(" {key}=\""))? + key.len() + 3;
    tag[at..].split('"').next()?.parse().ok()
}

#[test]
fn svg_arrows_slant_down_and_resets_start_off_the_dead_lifeline() {
    let (a, b) = CRASH;
    let doc = export_text("acks1-leader-failover", Format::Svg, window(a, b));
    well_formed(&doc).unwrap();
    // broker-1 is the second column: its lifeline's x.
    let lifelines: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.starts_with("<g id=\"lifelines\">"))
        .take_while(|l| !l.starts_with("</g>"))
        .filter(|l| l.starts_with("<line"))
        .collect();
    let mut xs: Vec<i64> = lifelines.iter().filter_map(|l| attr(l, "x1")).collect();
    xs.dedup();
    let broker1 = xs[1];
    let arrows: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.starts_with("<g id=\"arrows\">"))
        .take_while(|l| !l.starts_with("</g>"))
        .filter(|l| l.starts_with("<line"))
        .collect();
    assert!(arrows.len() >= 8, "{arrows:?}");
    for l in &arrows {
        let (y1, y2) = (attr(l, "y1").unwrap(), attr(l, "y2").unwrap());
        assert!(y2 > y1, "an arrow that does not go down in time: {l}");
    }
    // After the crash, whatever reaches a client from broker-1 is a reset: dashed, from
    // the network beside the lifeline, never from the lifeline itself.
    let resets: Vec<&&str> = arrows
        .iter()
        .filter(|l| l.contains("stroke-dasharray"))
        .collect();
    assert!(resets.len() >= 3, "{arrows:?}");
    for l in &resets {
        let x1 = attr(l, "x1").unwrap();
        assert!(x1 != broker1 && (x1 - broker1).abs() < 60, "{l}");
    }
    assert!(doc.contains("connection reset: broker-1 is down"));
    assert!(doc.contains("✖ crashed"));
    assert!(doc.contains("⚡ fault: crash target=leader:orders/0"));
    assert!(doc.contains("» The leader crashes."));
    assert!(doc.contains("Produce checkout#9 ✗ receiver down"));
}

#[test]
fn every_bundled_scenario_exports_well_formed_svg_and_grammatical_mermaid() {
    for b in scenario::bundled() {
        let (label, sc, seed) = load(b.name);
        let run = sequence::capture(&label, &sc, seed, Window::WHOLE, false);
        let run = match run {
            Ok(r) => r,
            // A long run is refused, not drawn unreadably: its first seconds are not.
            Err(e) => {
                assert!(e.contains("narrow it"), "{}: {e}", b.name);
                sequence::capture(&label, &sc, seed, window(0, 3000), false)
                    .unwrap_or_else(|e| panic!("{}: {e}", b.name))
            }
        };
        let doc = svg::document(&run.sequence);
        let names = well_formed(&doc).unwrap_or_else(|e| panic!("{}: {e}", b.name));
        assert_eq!(names[0], "svg", "{}", b.name);
        mermaid_grammar(&mermaid::diagram(&run.sequence))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name));
    }
}

// ----- Mermaid ------------------------------------------------------------------------------

#[test]
fn mermaid_of_a_crash_is_pinned() {
    let (a, b) = CRASH;
    let text = export_text("acks1-leader-failover", Format::Mermaid, window(a, b));
    mermaid_grammar(&text).unwrap();
    snap!("export__mermaid_acks1_crash", text);
}

/// Text after `:` or `as`: no statement break (`;`) or comment/entity start (`#`) except in
/// an entity code, no HTML but `<br/>`.
fn mermaid_text(t: &str) -> Result<(), String> {
    let stripped = t.replace("<br/>", "");
    if stripped.contains(['<', '>', '\n']) {
        return Err(format!("markup in {t:?}"));
    }
    let mut rest = stripped.as_str();
    while let Some(i) = rest.find(['#', ';']) {
        let after = &rest[i..];
        let code = after
            .strip_prefix('#')
            .and_then(|a| a.split_once(';'))
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match code {
            Some((_, tail)) => rest = tail,
            None => return Err(format!("unescaped # or ; in {t:?}")),
        }
    }
    Ok(())
}

fn mermaid_id(id: &str, declared: &[String]) -> Result<(), String> {
    if declared.iter().any(|d| d == id) {
        Ok(())
    } else {
        Err(format!("undeclared participant {id:?}"))
    }
}

/// The lines of a `sequenceDiagram` as this export writes them.
fn mermaid_grammar(doc: &str) -> Result<(), String> {
    let mut lines = doc.lines().skip_while(|l| l.starts_with("%%"));
    if lines.next() != Some("sequenceDiagram") {
        return Err("no sequenceDiagram header".into());
    }
    let mut declared: Vec<String> = Vec::new();
    for line in lines {
        let l = line.trim_start();
        if l.starts_with("%%") {
            continue;
        }
        if let Some(p) = l.strip_prefix("participant ") {
            let (id, alias) = p.split_once(" as ").ok_or(format!("no alias: {line}"))?;
            let plain = id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain
                || id.starts_with(|c: char| c.is_ascii_digit())
                || declared.contains(&id.to_string())
            {
                return Err(format!("bad participant id: {line}"));
            }
            mermaid_text(alias)?;
            declared.push(id.to_string());
        } else if let Some(n) = l.strip_prefix("Note over ") {
            let (who, text) = n.split_once(": ").ok_or(format!("no text: {line}"))?;
            for id in who.split(',') {
                mermaid_id(id, &declared)?;
            }
            mermaid_text(text)?;
        } else {
            let (arrow, text) = l
                .split_once(": ")
                .ok_or(format!("not a statement: {line}"))?;
            let (from, to) = ["-->>", "->>", "--x", "-x"]
                .iter()
                .find_map(|a| arrow.split_once(a))
                .ok_or(format!("no arrow: {line}"))?;
            mermaid_id(from, &declared)?;
            mermaid_id(to, &declared)?;
            mermaid_text(text)?;
        }
    }
    Ok(())
}

#[test]
fn mermaid_draws_drops_with_x_and_resets_from_the_network() {
    let (a, b) = CRASH;
    let text = export_text("acks1-leader-failover", Format::Mermaid, window(a, b));
    assert!(text.contains("participant network as ⚡ network"), "{text}");
    assert!(
        text.contains("network-->>checkout: ProduceResponse NETWORK_EXCEPTION"),
        "{text}"
    );
    assert!(
        text.contains("checkout-xbroker_1: Produce checkout#35;9 ✗ receiver down"),
        "{text}"
    );
    assert!(
        !text.contains("broker_1->>checkout: ProduceResponse NETWORK"),
        "{text}"
    );
    // A window with no reset has no network participant.
    let calm = export_text("acks1-leader-failover", Format::Mermaid, window(1000, 1300));
    assert!(!calm.contains("participant network"), "{calm}");
    mermaid_grammar(&calm).unwrap();
}

// ----- asciicast ----------------------------------------------------------------------------

/// A terminal of `w`×`h` that understands what the cast writes: cursor position, clear,
/// colours (ignored) and text.
struct Screen {
    w: usize,
    cells: Vec<Vec<String>>,
    at: (usize, usize),
}

impl Screen {
    fn new(w: usize, h: usize) -> Screen {
        Screen {
            w,
            cells: vec![vec![" ".to_string(); w]; h],
            at: (0, 0),
        }
    }

    fn feed(&mut self, data: &str) {
        let mut chars = data.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                assert_eq!(chars.next(), Some('['), "only CSI sequences");
                let mut params = String::new();
                let fin = loop {
                    let c = chars.next().expect("unfinished escape");
                    if ('@'..='~').contains(&c) {
                        break c;
                    }
                    params.push(c);
                };
                match fin {
                    'H' => {
                        let (r, c) = params.split_once(';').unwrap();
                        self.at = (
                            r.parse::<usize>().unwrap() - 1,
                            c.parse::<usize>().unwrap() - 1,
                        );
                    }
                    'J' => {
                        assert_eq!(params, "2");
                        for row in &mut self.cells {
                            row.fill(" ".to_string());
                        }
                    }
                    'm' | 'l' | 'h' => {}
                    other => panic!("unexpected escape {other}"),
                }
                continue;
            }
            let s = c.to_string();
            let width = ratatui::text::Span::raw(s.as_str()).width();
            let (r, x) = self.at;
            if width == 0 {
                // A combining mark or variation selector joins the cell before it.
                let prev = x.saturating_sub(1);
                self.cells[r][prev].push(c);
                continue;
            }
            self.cells[r][x] = s;
            for k in 1..width {
                if x + k < self.w {
                    self.cells[r][x + k] = String::new();
                }
            }
            self.at = (r, x + width);
        }
    }

    fn text(&self) -> String {
        self.cells
            .iter()
            .map(|row| row.concat().trim_end().to_string() + "\n")
            .collect()
    }
}

fn app_frame(app: &App) -> String {
    crate::tui::text(&crate::tui::draw(app, 100, 30))
}

#[test]
fn cast_follows_the_format_and_replays_to_the_tuis_frames() {
    let cast = export_text("acks1-leader-failover", Format::Cast, Window::WHOLE);
    let mut lines = cast.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["version"], 2);
    assert_eq!(header["width"], 100);
    assert_eq!(header["height"], 30);
    assert!(
        header.get("timestamp").is_none(),
        "no wall clock in the header"
    );
    let mut screen = Screen::new(100, 30);
    let mut last = -1.0f64;
    let mut frames = Vec::new();
    for l in lines {
        let ev: serde_json::Value = serde_json::from_str(l).unwrap();
        let ev = ev.as_array().unwrap();
        assert_eq!(ev.len(), 3);
        let t = ev[0].as_f64().unwrap();
        assert!(t > last, "times must increase: {t} after {last}");
        last = t;
        assert_eq!(ev[1], "o");
        screen.feed(ev[2].as_str().unwrap());
        frames.push(screen.text());
    }
    assert!(frames.len() > 50, "{} frames", frames.len());
    // The first frame is the TUI at the start of the run, cell for cell.
    let (label, sc, seed) = load("acks1-leader-failover");
    let start = App::with_session(Session::new(label.clone(), sc.clone(), seed));
    assert_eq!(frames[0], app_frame(&start));
    // The last is the TUI at the end of the run, playing.
    let mut end = App::with_session(Session::new(label, sc, seed));
    let s = end.session.as_mut().unwrap();
    while s.step_visible() > 0 {}
    end.clock = s.now();
    end.playing = true;
    assert_eq!(frames.last().unwrap(), &app_frame(&end));
    assert!(frames.last().unwrap().contains("finished"));
}

#[test]
fn cast_of_a_window_starts_there_and_stops_there() {
    let cast = export_text("acks1-leader-failover", Format::Cast, window(1_800, 2_500));
    let first: serde_json::Value = serde_json::from_str(cast.lines().nth(1).unwrap()).unwrap();
    let first = first[2].as_str().unwrap();
    assert!(first.contains("t=1.7"), "starts just before the window");
    let last_frame: serde_json::Value =
        serde_json::from_str(cast.lines().rev().nth(1).unwrap()).unwrap();
    let last_frame = last_frame[2].as_str().unwrap();
    assert!(!last_frame.contains("finished"), "stops in the window");
    assert!(cast.lines().count() < 80);
}

// ----- HTML ---------------------------------------------------------------------------------

#[test]
fn html_stands_alone_with_notes_trace_outcome_why_and_diagram() {
    let page = export_text("acks1-leader-failover", Format::Html, Window::WHOLE);
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    for needle in [
        "<h1>acks=1: an acknowledged write vanishes on leader failover</h1>",
        "» The leader crashes.",
        "<section id=\"diagram\">",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"",
        "broker-1 truncates orders/0 from offset 8 to 6",
        "Outcome  (seed 7,",
        "<h2>Why</h2>",
        "billing 2 lost (truncated): checkout#7, #8",
        "prevented by: acks = &quot;all&quot;",
    ] {
        assert!(page.contains(needle), "missing {needle}");
    }
    // Nothing to fetch, nothing to run.
    for banned in [
        "<script",
        "<link",
        "src=",
        "url(http",
        "href=\"http",
        "@import",
    ] {
        assert!(!page.contains(banned), "{banned}");
    }
    // The diagram inside is the SVG export's, well-formed.
    let at = page.find("<svg").unwrap();
    let end = page.find("</svg>").unwrap() + "</svg>".len();
    well_formed(&page[at..end]).unwrap();
    assert_eq!(
        &page[at..end],
        export_text("acks1-leader-failover", Format::Svg, Window::WHOLE)
            .split_once('\n')
            .unwrap()
            .1
            .trim_end()
    );
    // Sections open and close.
    assert_eq!(
        page.matches("<section").count(),
        page.matches("</section>").count()
    );
    // A window's page narrates only the window.
    let part = export_text("acks1-leader-failover", Format::Html, window(1_700, 2_000));
    assert!(part.contains("1.800s"));
    assert!(!part.contains(">12.011s<"), "a line past the window");
    assert!(part.contains("Of the whole run"));
}

// ----- the same bytes, and bad input --------------------------------------------------------

#[test]
fn every_format_gives_the_same_bytes_twice() {
    for format in [Format::Svg, Format::Mermaid, Format::Cast, Format::Html] {
        let a = export_text("ack-loss-duplicates", format, Window::WHOLE);
        let b = export_text("ack-loss-duplicates", format, Window::WHOLE);
        assert!(a == b, "{format:?} differs between two runs");
    }
}

#[test]
fn export_writes_the_file_or_stdout() {
    let tmp = TempDir::new("export");
    let dir = tmp.path().to_path_buf();
    let file = dir.join("run.mmd");
    let o = brokerlab(&[
        "export",
        "acks1-leader-failover",
        "--format",
        "mermaid",
        "--from",
        "1790ms",
        "--to",
        "1.91",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(&file).unwrap();
    let (a, b) = CRASH;
    assert_eq!(
        written,
        export_text("acks1-leader-failover", Format::Mermaid, window(a, b))
    );
    let o = brokerlab(&[
        "export",
        "acks1-leader-failover",
        "--format",
        "mermaid",
        "--to",
        "1.1s",
        "-o",
        "-",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("sequenceDiagram\n"));
}

#[test]
fn bad_export_input_exits_2_and_says_what_was_expected() {
    let cases: [(&[&str], &str); 6] = [
        (&["--format", "png", "-o", "-"], "png"),
        (
            &["--format", "svg", "--from", "3", "--to", "2", "-o", "-"],
            "must start before it ends",
        ),
        (
            &["--format", "svg", "--from", "99", "-o", "-"],
            "after the end of the run (20.100s)",
        ),
        (
            &["--format", "cast", "--from", "99", "-o", "-"],
            "after the end of the run",
        ),
        (
            &["--format", "svg", "--from", "soon", "-o", "-"],
            "expected seconds like `1.5`",
        ),
        (
            &["--format", "svg", "-o", "/nonexistent-dir/x.svg"],
            "cannot write /nonexistent-dir/x.svg",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["export", "acks1-leader-failover"];
        all.extend_from_slice(args);
        let o = brokerlab(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?} wrote to stdout");
    }
    let o = brokerlab(&["export", "no-such-scenario", "--format", "svg", "-o", "-"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn notes_and_faults_of_the_window_are_in_the_model_in_time_order() {
    let (label, sc, seed) = load("acks1-leader-failover");
    let (a, b) = CRASH;
    let run = sequence::capture(&label, &sc, seed, window(a, b), false).unwrap();
    let items = &run.sequence.items;
    assert!(items.windows(2).all(|w| w[0].time() <= w[1].time()));
    assert!(items.iter().all(|i| {
        let t = i.time();
        t >= SimTime::from_ms(a) && t <= SimTime::from_ms(b)
    }));
    assert!(
        items.iter().any(
            |i| matches!(i, Item::Note { text, .. } if text.starts_with("The leader crashes"))
        )
    );
    assert!(
        items.iter().any(
            |i| matches!(i, Item::Fault { text, .. } if text == "crash target=leader:orders/0")
        )
    );
}
