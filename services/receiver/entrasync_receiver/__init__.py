"""entrasync's receiver: Graph change notifications in, `ChangeNotified` on JetStream out."""
