pub mod speedscope;
