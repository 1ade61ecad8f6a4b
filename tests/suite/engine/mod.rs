mod breaker;
mod faults;
mod limits;
mod retention;
mod run;
mod store;
