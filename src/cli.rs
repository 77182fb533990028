//! Command-line interface.

use std::ffi::OsStr;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{Arg, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "brokerlab",
    version,
    about = "Watch a Kafka-style cluster keep or break its delivery promises.",
    long_about = "BrokerLab runs a deterministic simulation of a Kafka cluster (brokers, replicas, \
producers, consumer groups) from a scenario file, injects the faults it scripts, and reports which \
messages were lost, duplicated or reordered.\n\nSCENARIO is a path to a .toml file or the name of a \
bundled scenario (see `brokerlab list`)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a scenario in the interactive view (falls back to `run` when stdout is not a terminal).
    Tui {
        /// A scenario file or bundled scenario name.
        #[arg(value_parser = ScenarioArg, hide_possible_values = true)]
        scenario: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run a scenario headless: a narrated trace and the outcome table, or one JSON report.
    Run {
        /// A scenario file or bundled scenario name.
        #[arg(value_parser = ScenarioArg, hide_possible_values = true)]
        scenario: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON report instead of text.
        #[arg(long)]
        json: bool,
        /// Only print the outcome table, not the narrated trace.
        #[arg(long, short, conflicts_with = "json")]
        quiet: bool,
        /// Also narrate every message on the wire (heartbeats and fetches included), and show each
        /// event's id and the id of the event that caused it.
        #[arg(long, short, conflicts_with_all = ["json", "quiet"])]
        verbose: bool,
        /// Print one message's whole life (e.g. `checkout#7`), each step with its cause, instead
        /// of the narrated trace.
        #[arg(long, value_name = "MSG", conflicts_with_all = ["json", "quiet", "verbose"])]
        explain: Option<String>,
    },
    /// Validate scenario files and check their [expect] sections (every bundled one by default).
    Check {
        /// Scenario files or bundled names; none means every bundled scenario.
        #[arg(value_parser = ScenarioArg, hide_possible_values = true)]
        scenarios: Vec<String>,
    },
    /// Write NAME.toml: a small, commented scenario to start from (never overwrites a file).
    New {
        /// The new file's name; `.toml` is added unless it ends with it.
        name: String,
    },
    /// Run a scenario under the at-most-once, at-least-once and exactly-once presets (or under
    /// Kafka version profiles with --versions, or on queue systems with --systems), side by side.
    Compare {
        /// A scenario file or bundled scenario name.
        #[arg(value_parser = ScenarioArg, hide_possible_values = true)]
        scenario: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Compare Kafka version profiles instead of presets: a comma-separated list of
        /// 0.10, 2.8, 3.9, 4.0, 4.2 (e.g. `--versions 0.10,4.2`).
        #[arg(long, value_name = "LIST")]
        versions: Option<String>,
        /// Compare queue systems instead of presets: a comma-separated list of kafka,
        /// kafka-share, rabbitmq, sqs, sqs-fifo, redis-list, redis-reliable-list, redis-stream
        /// (e.g. `--systems kafka,rabbitmq,sqs`).
        #[arg(long, value_name = "LIST", conflicts_with = "versions")]
        systems: Option<String>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario once per seed on every core, and count how often each anomaly happens.
    Sweep {
        /// A scenario file or bundled scenario name.
        #[arg(value_parser = ScenarioArg, hide_possible_values = true)]
        scenario: String,
        /// How many seeds to run.
        #[arg(long)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Add 1-3 seeded random faults per seed (broker crash and restart, pause, drop-acks).
        #[arg(long)]
        random_faults: bool,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Print the scenario of seed --from (with its random faults) as a TOML file to open
        /// with `brokerlab tui`, instead of sweeping (needs --seeds 1).
        #[arg(long, conflicts_with = "json")]
        print_scenario: bool,
    },
    /// Export a run for slides and sharing: its sequence diagram (SVG or Mermaid), a recording
    /// of the TUI playing it (asciicast v2), or one self-contained HTML page.
    Export {
        /// A scenario file or bundled scenario name.
        #[arg(value_parser = ScenarioArg, hide_possible_values = true)]
        scenario: String,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// What to write.
        #[arg(long, value_enum)]
        format: crate::export::Format,
        /// Start of the window to export: seconds (`1.5`, `1.5s`) or milliseconds (`1500ms`)
        /// [default: the start of the run].
        #[arg(long, value_name = "T", value_parser = crate::export::parse_time)]
        from: Option<crate::sim::SimTime>,
        /// End of the window, as --from [default: the end of the run].
        #[arg(long, value_name = "T", value_parser = crate::export::parse_time)]
        to: Option<crate::sim::SimTime>,
        /// The file to write; `-` writes to standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: String,
    },
    /// Interview practice as plain text: predict what happens at moments of a run, then see
    /// the answer the run gives and why (answers read from stdin; end of input ends the quiz).
    Quiz {
        /// A scenario file or bundled scenario name; none means the whole bundled library.
        #[arg(value_parser = ScenarioArg, hide_possible_values = true)]
        scenario: Option<String>,
        /// Shuffle the library's scenarios with this seed (each run keeps its own seed, so
        /// every answer stays the run's).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// List the bundled scenarios.
    List,
    /// Print the glossary: every abbreviation, label and glyph the interactive view shows, with
    /// Kafka's name for it (the same table as `?` then `g` in the TUI).
    Glossary,
    /// Measure simulation speed on a large generated scenario.
    Bench {
        /// Messages to produce [default: 1000000, or 10000 with --sweep].
        #[arg(long)]
        messages: Option<u64>,
        /// Brokers in the cluster.
        #[arg(long, default_value_t = 10)]
        brokers: u32,
        /// Partitions of the topic (replication factor 3).
        #[arg(long, default_value_t = 100)]
        partitions: u32,
        /// Seed for the run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run at 10, 100 and 1000 partitions (other sizes as given), five rounds in turn, and
        /// print the cost per event and per message of each (min and median), instead of the
        /// single run.
        #[arg(long, conflicts_with_all = ["partitions", "json", "sweep"])]
        partitions_scaling: bool,
        /// Time `run --json` (the report built and serialised) against the simulation alone,
        /// five rounds alternating.
        #[arg(long)]
        json: bool,
        /// Time `sweep` over SEEDS seeds of the scenario (10 000 messages unless --messages),
        /// with one job and with two, five rounds alternating.
        #[arg(long, value_name = "SEEDS", num_args = 0..=1, default_missing_value = "100", conflicts_with = "json")]
        sweep: Option<u64>,
        /// Instead: build a run of --events events in a TUI session and report what its
        /// checkpoints cost and how long one step back takes from random positions.
        #[arg(long, conflicts_with_all = ["frames", "json", "sweep", "partitions_scaling"])]
        step_back: bool,
        /// Instead: play --events events in a TUI session and time drawing every view at
        /// 200×60.
        #[arg(long, conflicts_with_all = ["json", "sweep", "partitions_scaling"])]
        frames: bool,
        /// Simulated events for --step-back (5 M) and --frames (4 M); an error without one
        /// of them.
        #[arg(long)]
        events: Option<u64>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

/// A SCENARIO argument: any file path or name (`load` decides), with the bundled scenarios'
/// names as its possible values, so that shell completions offer them.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioArg;

impl TypedValueParser for ScenarioArg {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            crate::scenario::bundled()
                .iter()
                .map(|b| PossibleValue::new(b.name)),
        ))
    }
}

/// The shell completion script for `brokerlab completions SHELL`: clap's, with the bundled
/// scenarios' names offered wherever a SCENARIO goes (`run`, `tui`, `check`, `compare`,
/// `sweep`, `export`, `quiz`), alongside file names.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "brokerlab", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    let names: Vec<&str> = crate::scenario::bundled().iter().map(|b| b.name).collect();
    let names = names.join(" ");
    match shell {
        // bash: clap puts the names among each subcommand's words; a word that matches none
        // falls back to file names (`complete -o default`).
        Shell::Zsh => {
            // clap makes the names the only choice; offer them and `.toml` files.
            let script = script.replace(&format!(":({names})'"), ":_brokerlab_scenarios'");
            let helper = format!(
                "(( $+functions[_brokerlab_scenarios] )) ||\n\
                 _brokerlab_scenarios() {{\n    \
                 _alternative \\\n        \
                 'bundled:bundled scenario:({names})' \\\n        \
                 'files:scenario file:_files -g \"*.toml\"'\n\
                 }}\n\n"
            );
            match script.rfind("if [ \"$funcstack[1]\" = \"_brokerlab\" ]") {
                Some(at) => format!("{}{helper}{}", &script[..at], &script[at..]),
                None => script + &helper,
            }
        }
        // fish: clap completes no positional values; add the names (files stay on).
        Shell::Fish => format!(
            "{script}\n# Bundled scenarios, wherever a SCENARIO goes (file names are completed too).\n\
             complete -c brokerlab -n \"__fish_brokerlab_using_subcommand run tui check compare sweep export quiz\" -a \"{names}\" -d 'bundled scenario'\n"
        ),
        _ => script,
    }
}
