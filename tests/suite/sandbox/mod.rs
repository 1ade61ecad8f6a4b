mod control;
mod guard;
mod limits;
mod openapi;
mod protocol;
mod ratelimit;
mod serenity;
