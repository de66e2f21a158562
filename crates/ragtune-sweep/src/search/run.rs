//! Running part of a grid, on all the data or on a screen, with the accounting a
//! search adds up over its steps.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use ragtune_core::Setup;
use ragtune_eval::PointRecord;

use crate::error::Result;
use crate::exec::{Executor, Reporter, stage_records};
use crate::grid::Grid;
use crate::models::Models;
use crate::plan::Plan;
use crate::record::{EmbedRecord, RunDir, StageRecord};
use crate::search::{Budget, Screen};
use crate::store::StageStore;
use crate::sweep::Prepared;

/// What every execution of a search shares.
pub struct Runner<'a> {
    /// The whole grid.
    pub grid: &'a Grid,
    /// Its inputs, loaded, and its plan.
    pub prep: &'a Prepared,
    /// The stage store.
    pub store: Option<&'a StageStore>,
    /// Embedders.
    pub models: &'a dyn Models,
    /// Progress.
    pub rep: &'a dyn Reporter,
    /// The sweep's budget.
    pub budget: Budget,
    /// Summed over executions.
    pub acct: Mutex<Accounting>,
}

/// What the executions of one search did, summed.
#[derive(Default)]
pub struct Accounting {
    /// Embedding work of every execution.
    pub embeds: Vec<EmbedRecord>,
    /// Warnings of executions on all the data.
    pub warnings: Vec<String>,
    /// Per stage kind, summed over executions.
    pub stages: BTreeMap<String, StageRecord>,
    /// Whether the budget stopped an execution.
    pub stopped: bool,
}

impl<'a> Runner<'a> {
    /// A runner over `prep`, a prepared `grid`.
    pub fn new(
        grid: &'a Grid,
        prep: &'a Prepared,
        store: Option<&'a StageStore>,
        models: &'a dyn Models,
        rep: &'a dyn Reporter,
        budget: Budget,
    ) -> Self {
        Self {
            grid,
            prep,
            store,
            models,
            rep,
            budget,
            acct: Mutex::new(Accounting::default()),
        }
    }

    fn acct(&self) -> std::sync::MutexGuard<'_, Accounting> {
        self.acct.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The grid cut down to `points`.
    pub fn sub_grid(&self, points: &[Setup]) -> Grid {
        let mut g = self.grid.clone();
        g.points = points.to_vec();
        g.combinations = vec![1; points.len()];
        g
    }

    /// The inputs for `points`, on a screen or on all the data.
    fn prepared(&self, grid: &Grid, screen: Option<&Screen>) -> Prepared {
        let p = self.prep;
        let mut inputs = p.plan.inputs.clone();
        let corpus = match screen {
            Some(s) => {
                let c = s.corpus(&p.corpus);
                inputs.questions = c.questions_fingerprint();
                inputs.corpus = c.fingerprint();
                inputs.screen = Some(s.key.clone());
                c
            }
            None => p.corpus.clone(),
        };
        Prepared {
            corpus,
            infos: p.infos.clone(),
            tokenizer: p.tokenizer.clone(),
            tokenizer_path: p.tokenizer_path.clone(),
            sizer: p.sizer.clone(),
            plan: Plan::build(grid, inputs),
        }
    }

    /// Score `points` (on `screen`, or on all the data) into `dir`; `done` holds points
    /// already scored there. Stops between chunk sets when the budget is spent.
    pub fn run(
        &self,
        points: &[Setup],
        screen: Option<&Screen>,
        dir: &RunDir,
        done: &HashMap<String, PointRecord>,
    ) -> Result<Vec<PointRecord>> {
        let grid = self.sub_grid(points);
        let prep = self.prepared(&grid, screen);
        let mut ex = Executor::new(&grid, &prep, self.store, self.models, self.rep)
            .with_budget(self.budget.clone());
        if let Some(s) = screen {
            ex = ex.with_screen(s);
        }
        let records = ex.execute(done, dir);
        let mut a = self.acct();
        a.embeds
            .extend(ex.embeds.lock().unwrap_or_else(|p| p.into_inner()).clone());
        if screen.is_none() {
            for w in ex.warnings.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                if !a.warnings.contains(w) {
                    a.warnings.push(w.clone());
                }
            }
        }
        let tally = ex.tally.lock().unwrap_or_else(|p| p.into_inner());
        for s in stage_records(&prep.plan, &tally) {
            let e = a.stages.entry(s.kind.clone()).or_insert(StageRecord {
                kind: s.kind.clone(),
                nodes: 0,
                computed: 0,
                reused: 0,
            });
            e.nodes += s.nodes;
            e.computed += s.computed;
            e.reused += s.reused;
        }
        a.stopped |= ex.was_stopped();
        records
    }
}
