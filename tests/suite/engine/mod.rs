mod breaker;
mod copy;
mod faults;
mod favorites;
mod limits;
mod retention;
mod run;
mod store;
