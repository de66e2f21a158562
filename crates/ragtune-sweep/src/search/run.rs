//! Running part of a grid, on all the data or on a screen, adding up the accounting of
//! a search's steps.

use std::collections::HashMap;
use std::sync::Mutex;

use ragtune_core::Setup;
use ragtune_eval::PointRecord;

use crate::accounting::Accounting;
use crate::budget::Budget;
use crate::error::Result;
use crate::exec::{Executor, Reporter};
use crate::models::Models;
use crate::plan::Plan;
use crate::prepare::Prepared;
use crate::record::RunDir;
use crate::screen::Screen;
use ragtune_grid::Grid;
use ragtune_store::StageStore;

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
    acct: Mutex<Accounting>,
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

    /// What the search's executions did so far, summed.
    pub fn accounting(&self) -> Accounting {
        self.acct().clone()
    }

    /// Whether the budget stopped an execution.
    pub fn stopped(&self) -> bool {
        self.acct().stopped
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
            skipped: Vec::new(),
            labels: Vec::new(),
            warnings: p.warnings.clone(),
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
        self.acct().add(ex.accounting(), screen.is_none());
        records
    }
}
