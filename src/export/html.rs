//! One self-contained HTML page of a run: the scenario's title and notes, the sequence diagram
//! (the SVG, inline), the narrated trace, the outcome table and the "why" section, as the text
//! report writes them. Inline CSS, no script, no external asset: it can be mailed or opened
//! from a USB stick in front of a class.

use std::fmt::Write as _;

use super::sequence::{Capture, Item};
use super::{fmt_time, xml_escape as esc};
use crate::scenario::Scenario;
use crate::session::LogKind;

const CSS: &str = "\
:root{color-scheme:light}
body{margin:0;background:#fff;color:#1f2328;font:18px/1.5 'DejaVu Sans',Verdana,Arial,sans-serif}
main{max-width:1760px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:32px;line-height:1.25;margin:4px 0 8px}
h2{font-size:26px;margin:40px 0 12px;border-bottom:2px solid #d0d7de;padding-bottom:4px}
.kicker{margin:0;color:#57606a;font-size:16px;text-transform:uppercase;letter-spacing:.08em}
.summary{font-size:20px;margin:0 0 12px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0 0 12px;font-size:16px}
dl.meta dt{color:#57606a}dl.meta dd{margin:0;font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}
nav{font-size:16px}nav a{color:#0550ae}
.notes{padding-left:0;list-style:none}
.notes li{background:#fff8c5;border:2px solid #7d4e00;border-radius:8px;padding:8px 12px;margin:8px 0}
time{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;color:#57606a;margin-right:12px}
.figure{overflow-x:auto;border:1px solid #d0d7de;border-radius:8px}
.figure svg{display:block;max-width:100%;height:auto}
section#trace,section#notes,header{max-width:1200px}
table.trace{border-collapse:collapse;width:100%;font-size:16px}
table.trace td{padding:3px 8px;vertical-align:top;border-bottom:1px solid #eaeef2}
table.trace td.t{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;color:#57606a;white-space:nowrap;text-align:right}
table.trace td.k{color:#57606a;font-size:14px;white-space:nowrap}
tr.narration td{background:#fff8c5;font-weight:bold}
tr.fault td:last-child,tr.error td:last-child,tr.anomaly td:last-child{color:#b3001b}
tr.election td:last-child,tr.isr td:last-child{color:#0550ae}
tr.truncation td:last-child{color:#953800;font-weight:bold}
tr.rebalance td:last-child{color:#6639ba}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;overflow-x:auto;\
font:15px/1.45 'DejaVu Sans Mono',Menlo,Consolas,monospace}
footer{margin-top:48px;color:#57606a;font-size:14px}
";

/// The word a narrated line's kind is shown with (next to its colour).
fn kind_word(k: LogKind) -> (&'static str, &'static str) {
    match k {
        LogKind::Narration => ("narration", "note"),
        LogKind::Fault => ("fault", "fault"),
        LogKind::Election => ("election", "election"),
        LogKind::Isr => ("isr", "ISR"),
        LogKind::Truncation => ("truncation", "truncation"),
        LogKind::Rebalance => ("rebalance", "group"),
        LogKind::Error => ("error", "error"),
        LogKind::Anomaly => ("anomaly", "anomaly"),
        LogKind::Flow => ("flow", ""),
        LogKind::Run => ("run", "run"),
    }
}

/// The outcome table and the "why" section (with the hints and expectations after it) of the
/// text report.
fn outcome_and_why(text: &str) -> (&str, Option<&str>) {
    match text.find("\nWhy\n") {
        Some(i) => (&text[..=i], Some(&text[i + 5..])),
        None => (text, None),
    }
}

/// The page.
pub fn page(scenario: &Scenario, run: &Capture) -> String {
    let seq = &run.sequence;
    let r = &run.report;
    let whole = seq.window == super::Window::WHOLE;
    let mut s = String::with_capacity(64 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(s, "<title>{} — BrokerLab</title>", esc(&seq.title));
    let _ = writeln!(
        s,
        "<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n<header>"
    );
    s.push_str("<p class=\"kicker\">BrokerLab run</p>\n");
    let _ = writeln!(s, "<h1>{}</h1>", esc(&seq.title));
    if !scenario.scenario.summary.is_empty() {
        let _ = writeln!(
            s,
            "<p class=\"summary\">{}</p>",
            esc(&scenario.scenario.summary)
        );
    }
    s.push_str("<dl class=\"meta\">\n");
    let window = if whole {
        format!("{} (the whole run)", seq.window_text())
    } else {
        seq.window_text()
    };
    for (k, v) in [
        ("scenario", seq.label.clone()),
        ("seed", seq.seed.to_string()),
        ("shows", scenario.scenario.guarantee.name().to_string()),
        ("window", window),
        ("events", r.events.to_string()),
        ("trace digest", r.digest.clone()),
    ] {
        let _ = writeln!(s, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
    }
    s.push_str(
        "</dl>\n<nav>On this page: <a href=\"#notes\">notes</a> · \
                <a href=\"#diagram\">sequence diagram</a> · <a href=\"#trace\">what happened</a> · \
                <a href=\"#outcome\">outcome</a> · <a href=\"#why\">why</a></nav>\n</header>\n",
    );

    // The notes, as the run reached them.
    s.push_str("<section id=\"notes\">\n<h2>Notes</h2>\n");
    let notes: Vec<_> = seq
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Note { time, text } => Some((*time, text)),
            _ => None,
        })
        .collect();
    if notes.is_empty() {
        s.push_str("<p>The scenario narrates nothing in this window.</p>\n");
    } else {
        s.push_str("<ol class=\"notes\">\n");
        for (t, text) in notes {
            let _ = writeln!(
                s,
                "<li><time>{}</time>» {}</li>",
                crate::report::fmt_time(t),
                esc(text)
            );
        }
        s.push_str("</ol>\n");
    }
    s.push_str("</section>\n");

    s.push_str("<section id=\"diagram\">\n<h2>Sequence diagram</h2>\n<div class=\"figure\">\n");
    s.push_str(&super::svg::element(seq));
    s.push_str("</div>\n</section>\n");

    s.push_str("<section id=\"trace\">\n<h2>What happened</h2>\n");
    s.push_str("<table class=\"trace\">\n<tbody>\n");
    for (t, kind, line) in &run.narration {
        let (class, word) = kind_word(*kind);
        let _ = writeln!(
            s,
            "<tr class=\"{class}\"><td class=\"t\">{}</td><td class=\"k\">{word}</td><td>{}</td></tr>",
            crate::report::fmt_time(*t),
            esc(line)
        );
    }
    s.push_str("</tbody>\n</table>\n");
    if run.narration_left_out > 0 {
        let _ = writeln!(
            s,
            "<p>… and {} more lines: narrow the window with --from and --to.</p>",
            run.narration_left_out
        );
    }
    s.push_str("</section>\n");

    let text = crate::report::outcome_table(r);
    let (table, why) = outcome_and_why(&text);
    s.push_str("<section id=\"outcome\">\n<h2>Outcome</h2>\n");
    if !whole {
        s.push_str("<p>Of the whole run, not only the window.</p>\n");
    }
    let _ = writeln!(s, "<pre>{}</pre>\n</section>", esc(table));
    s.push_str("<section id=\"why\">\n<h2>Why</h2>\n");
    match why {
        Some(why) => {
            let _ = writeln!(s, "<pre>{}</pre>", esc(why));
        }
        None => {
            s.push_str("<p>No message was lost, duplicated or reordered: nothing to explain.</p>\n")
        }
    }
    s.push_str("</section>\n");
    let mut command = format!("brokerlab export {} --seed {}", seq.label, seq.seed);
    if seq.window.from > crate::sim::SimTime::ZERO {
        command.push_str(&format!(" --from {}", fmt_time(seq.window.from)));
    }
    if let Some(to) = seq.window.to {
        command.push_str(&format!(" --to {}", fmt_time(to)));
    }
    let _ = writeln!(
        s,
        "<footer>Made with <code>{} --format html</code>. The same command makes the same \
         page.</footer>",
        esc(&command)
    );
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::outcome_and_why;

    #[test]
    fn the_why_section_is_split_off_the_outcome_table() {
        let (t, w) = outcome_and_why("Outcome\n  x\nWhy\n  because\n");
        assert_eq!(t, "Outcome\n  x\n");
        assert_eq!(w, Some("  because\n"));
        assert_eq!(outcome_and_why("Outcome\n"), ("Outcome\n", None));
    }
}
